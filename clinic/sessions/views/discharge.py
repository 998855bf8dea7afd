"""The end of a session: the discharge checklist, the discharge itself, or a cancellation."""

from __future__ import annotations

from flask import abort
from flask_login import current_user
from werkzeug.wrappers import Response

from clinic.auth.access import roles_required
from clinic.auth.models import CLINICAL_ROLES
from clinic.extensions import db
from clinic.sessions.blueprint import bp
from clinic.sessions.chart import Confirmation, ShownAgain
from clinic.sessions.entry_time import entered_time
from clinic.sessions.forms.discharge import CancelForm, ChecklistForm, EndSessionForm
from clinic.sessions.loading import get_session_or_404
from clinic.sessions.models import ChecklistItem
from clinic.sessions.services.discharge import (
    StaleChecklistError,
    StaleSessionError,
    cancel_session,
    end_session,
    record_checklist,
)
from clinic.sessions.views.posting import save_or_show_again


@bp.route(
    "/<int:session_id>/checklist/<int:item_id>", methods=["POST"], endpoint="record_checklist"
)
@roles_required(*CLINICAL_ROLES)
def record_checklist_item(session_id: int, item_id: int) -> Response | tuple[str, int]:
    item = db.session.get(ChecklistItem, item_id)
    if item is None or not item.active:
        abort(404)
    form = ChecklistForm(item=item)

    def write() -> Confirmation:
        try:
            record_checklist(
                current_user,
                session_id,
                item_id,
                done=form.done,
                not_done_reason=form.not_done_reason.data,
                detail=form.detail.data,
                note=form.note.data or "",
                submission_key=form.submission(),
                # Absent from a scripted post: no check (a browser's form always carries it).
                shown_state=form.shown_state.data or "" if form.shown_state.raw_data else None,
            )
        except StaleChecklistError as error:
            # Shown again with what is now current: saving once more is a deliberate choice.
            form.shown_state.data = error.current_id
            raise
        part = f"checklist-item-{item_id}"
        return Confirmation(part, f"Checklist: {item.label} recorded.", part)

    return save_or_show_again(
        session_id,
        form,
        write,
        shown_again=ShownAgain(checklist_forms={item_id: form}),
        anchor=f"checklist-item-{item_id}",
    )


@bp.route("/<int:session_id>/end", methods=["POST"])
@roles_required(*CLINICAL_ROLES)
def end(session_id: int) -> Response | tuple[str, int]:
    form = EndSessionForm()

    def write() -> Confirmation:
        try:
            end_session(
                current_user,
                session_id,
                entered_time(form, form.discharged_at),
                form.discharged_with.data or "",
                expected_version=int(form.version.data or 0),
                override_reason=form.override_reason.data or "",
            )
        except StaleSessionError:
            # Saving again, having seen the record as it now is, is a deliberate correction.
            db.session.rollback()
            form.version.data = str(get_session_or_404(session_id).version)
            raise
        return Confirmation("ending", "Discharge recorded.")

    return save_or_show_again(
        session_id,
        form,
        write,
        shown_again=ShownAgain(end_form=form),
        anchor="ending",
        focus="ending",
    )


@bp.route("/<int:session_id>/cancel", methods=["POST"])
@roles_required(*CLINICAL_ROLES)
def cancel(session_id: int) -> Response | tuple[str, int]:
    form = CancelForm()

    def write() -> Confirmation:
        cancel_session(current_user, session_id, form.cancel_reason.data or "")
        return Confirmation("cancel", "Session cancelled. It still needs a clinician's signature.")

    return save_or_show_again(
        session_id, form, write, shown_again=ShownAgain(cancel_form=form), anchor="cancel"
    )
