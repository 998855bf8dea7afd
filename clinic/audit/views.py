"""Admin viewer of the trail. Admins see record ids, never clinical text."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Blueprint, current_app, render_template, request

from clinic.audit.forms import AuditFilterForm
from clinic.audit.models import AuditEvent
from clinic.auth.access import roles_required
from clinic.auth.models import Role, User
from clinic.extensions import db
from clinic.form_choices import as_choices
from clinic.request_bounds import page_number

bp = Blueprint("audit", __name__, url_prefix="/audit")

# Entities whose changed values are not clinical and may be shown to an admin; for every other
# entity the viewer lists only which fields changed.
VALUES_SHOWN_FOR = frozenset({"user"})


def visible_changes(event: AuditEvent) -> dict[str, Any] | list[str]:
    changes = json.loads(event.changes or "{}")
    return changes if event.entity in VALUES_SHOWN_FOR else sorted(changes)


def _local_midnight_utc(day: Any) -> datetime:
    zone = ZoneInfo(current_app.config["CLINIC_TIMEZONE"])
    return datetime.combine(day, time.min, tzinfo=zone)


@bp.route("/")
@roles_required(Role.ADMIN)
def index() -> tuple[str, int]:
    form = AuditFilterForm(request.args)
    users = db.session.scalars(sa.select(User).order_by(User.username)).all()
    form.user.choices = as_choices([("", "Anyone")] + [(str(u.id), u.username) for u in users])
    actions = db.session.scalars(
        sa.select(AuditEvent.action).distinct().order_by(AuditEvent.action)
    ).all()
    form.action.choices = as_choices([("", "Any action")] + [(a, a) for a in actions])

    query = sa.select(AuditEvent).order_by(AuditEvent.id.desc())
    valid = form.validate()
    if valid:
        if form.user.data:
            query = query.where(AuditEvent.actor_id == int(form.user.data))
        if form.action.data:
            query = query.where(AuditEvent.action == form.action.data)
        if form.patient.data:
            query = query.where(AuditEvent.patient_id == form.patient.data)
        if form.date_from.data:
            query = query.where(AuditEvent.occurred_at >= _local_midnight_utc(form.date_from.data))
        if form.date_to.data:
            end = _local_midnight_utc(form.date_to.data + timedelta(days=1))
            query = query.where(AuditEvent.occurred_at < end)
    page = db.paginate(
        query,
        page=page_number(request.args),
        per_page=current_app.config["AUDIT_PAGE_SIZE"],
        error_out=False,
    )
    # The page links carry the filters, and only them: any other argument (`_external`,
    # `_anchor`, `_method` are url_for's own) would change the link instead of the list.
    filters = {
        field.name: request.args[field.name] for field in form if request.args.get(field.name)
    }
    page_html = render_template(
        "audit/index.html", form=form, page=page, filters=filters, visible_changes=visible_changes
    )
    # A filter that cannot be applied is shown next to its field; the list is unfiltered.
    return page_html, 200 if valid else 422
