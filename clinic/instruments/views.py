"""Instrument pages (clinicians): the instruments and their versions, and adding an instrument
or a new version from its definition. Thin: parse, call one service, commit, redirect."""

from __future__ import annotations

import json

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from clinic.auth.access import roles_required
from clinic.auth.models import Role
from clinic.extensions import db
from clinic.field_errors import FieldError, show_on_form
from clinic.instruments.forms import InstrumentDefinitionForm
from clinic.instruments.services import add_instrument_version, all_versions, current_version

bp = Blueprint("instruments", __name__, url_prefix="/instruments")


@bp.route("/")
@roles_required(Role.CLINICIAN)
def index() -> str:
    return render_template("instruments/index.html", versions=all_versions())


@bp.route("/new", methods=["GET", "POST"])
@roles_required(Role.CLINICIAN)
def new() -> Response | tuple[str, int] | str:
    form = InstrumentDefinitionForm()
    if request.method == "GET":
        code = request.args.get("from", "")[:24]
        base = current_version(code) if code else None
        if base is not None:
            form.definition.data = json.dumps(base.definition, indent=2, ensure_ascii=False)
        return render_template("instruments/new.html", form=form)
    if form.validate_on_submit():
        try:
            data = json.loads(form.definition.data)
            version = add_instrument_version(current_user, data)
        except json.JSONDecodeError as error:
            form.definition.errors.append(f"Not valid JSON: {error.msg} (line {error.lineno}).")
        except FieldError as error:
            db.session.rollback()
            show_on_form(form, error, "definition")
        else:
            db.session.commit()
            flash(f"{version.name} version {version.version} added.", "success")
            return redirect(url_for("instruments.index"))
    return render_template("instruments/new.html", form=form), 422
