"""The REMS monitoring form of an esketamine session: a page laid out from the chart, printable
on one page, with the ready-to-leave question and the submission, each posted to a sub-URL."""

from __future__ import annotations

from collections.abc import Callable

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from clinic.auth.access import roles_required
from clinic.auth.models import CLINICAL_ROLES
from clinic.clinic_time import format_local
from clinic.extensions import db
from clinic.field_errors import FieldError, show_on_form
from clinic.sessions.blueprint import bp
from clinic.sessions.forms.rems import ReadyToLeaveForm, RemsSubmittedForm
from clinic.sessions.guards import SessionNotFoundError
from clinic.sessions.loading import get_session_or_404
from clinic.sessions.services.rems import answer_ready_to_leave, build_rems_view, mark_submitted
from clinic.sessions.views.posting import record_page_view


def _page(
    session_id: int,
    ready_form: ReadyToLeaveForm | None = None,
    submitted_form: RemsSubmittedForm | None = None,
) -> tuple[str, int]:
    infusion_session = get_session_or_404(session_id)
    view = build_rems_view(infusion_session)
    ready = ready_form or ReadyToLeaveForm(formdata=None, prefix="ready")
    if ready_form is None and view.ready_to_leave_minutes is not None:
        ready.ready_to_leave_minutes.data = view.ready_to_leave_minutes
    page = render_template(
        "sessions/rems.html",
        infusion_session=infusion_session,
        rems=view,
        ready_form=ready,
        submitted_form=submitted_form or RemsSubmittedForm(formdata=None, prefix="submitted"),
        printed_at=format_local(infusion_session.started_at, "%Y-%m-%d"),
    )
    record_page_view(infusion_session)
    refused = (ready_form is not None and ready_form.errors) or (
        submitted_form is not None and submitted_form.errors
    )
    return page, 422 if refused else 200


@bp.route("/<int:session_id>/rems")
@roles_required(*CLINICAL_ROLES)
def rems_form(session_id: int) -> str:
    return _page(session_id)[0]


def _post(
    session_id: int,
    form: ReadyToLeaveForm | RemsSubmittedForm,
    write: Callable[[], str],
    page: Callable[[], tuple[str, int]],
) -> Response | tuple[str, int]:
    """Validate, write through one service, commit, back to the form (Post/Redirect/Get); or
    the form again with the input kept and the message by its field (422). A signed chart still
    takes these: the form is filed after the session, within the programme's days."""
    get_session_or_404(session_id)
    if not form.validate_on_submit():
        return page()
    try:
        message = write()
    except SessionNotFoundError:
        db.session.rollback()
        abort(404)
    except FieldError as error:
        db.session.rollback()
        show_on_form(form, error)
        return page()
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("sessions.rems_form", session_id=session_id))


@bp.route("/<int:session_id>/rems/ready", methods=["POST"])
@roles_required(*CLINICAL_ROLES)
def rems_ready(session_id: int) -> Response | tuple[str, int]:
    form = ReadyToLeaveForm(prefix="ready")

    def write() -> str:
        minutes = form.ready_to_leave_minutes.data
        answer_ready_to_leave(current_user, session_id, minutes)
        return f"Ready to leave at {minutes} minutes after the first device: saved."

    return _post(session_id, form, write, lambda: _page(session_id, ready_form=form))


@bp.route("/<int:session_id>/rems/submitted", methods=["POST"])
@roles_required(*CLINICAL_ROLES)
def rems_submitted(session_id: int) -> Response | tuple[str, int]:
    form = RemsSubmittedForm(prefix="submitted")

    def write() -> str:
        mark_submitted(current_user, session_id, form.submitted_on.data)
        return "REMS form marked submitted."

    return _post(session_id, form, write, lambda: _page(session_id, submitted_form=form))
