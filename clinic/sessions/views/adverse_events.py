"""Adverse events and their resolution."""

from __future__ import annotations

from flask_login import current_user
from werkzeug.wrappers import Response

from clinic.auth.access import roles_required
from clinic.auth.models import CLINICAL_ROLES
from clinic.clinic_time import from_local
from clinic.sessions.adverse_event_section import ADVERSE_EVENT_PREFIX
from clinic.sessions.blueprint import bp
from clinic.sessions.chart import Confirmation, ShownAgain
from clinic.sessions.entry_time import entered_time
from clinic.sessions.forms.adverse_events import AdverseEventForm, ResolveAdverseEventForm
from clinic.sessions.models import AdverseEventOutcome, AdverseEventSeverity, AdverseEventType
from clinic.sessions.services.adverse_events import (
    AdverseEventDetails,
    record_adverse_event,
    resolve_adverse_event,
)
from clinic.sessions.views.posting import save_or_show_again


@bp.route("/<int:session_id>/adverse-events", methods=["POST"], endpoint="add_adverse_event")
@roles_required(*CLINICAL_ROLES)
def add_adverse_event(session_id: int) -> Response | tuple[str, int]:
    form = AdverseEventForm(prefix=ADVERSE_EVENT_PREFIX)

    def write() -> Confirmation:
        details = AdverseEventDetails(
            occurred_at=entered_time(form, form.occurred_at),
            type=AdverseEventType(form.type.data),
            severity=AdverseEventSeverity(form.severity.data),
            actions=list(form.actions.data or []),
            resolved_at=from_local(form.resolved_at.data) if form.resolved_at.data else None,
            outcome=AdverseEventOutcome(form.outcome.data) if form.outcome.data else None,
            note=form.note.data or "",
        )
        stored = record_adverse_event(current_user, session_id, details, form.submission())
        row = f"adverse_event-{stored.entry.id}"
        return Confirmation("adverse-events", "Adverse event recorded.", row)

    return save_or_show_again(
        session_id,
        form,
        write,
        shown_again=ShownAgain(adverse_event_form=form),
        anchor="adverse-events",
        focus="adverse-events",
    )


@bp.route(
    "/<int:session_id>/adverse-events/<int:event_id>/resolve",
    methods=["POST"],
    endpoint="resolve_adverse_event",
)
@roles_required(*CLINICAL_ROLES)
def resolve(session_id: int, event_id: int) -> Response | tuple[str, int]:
    form = ResolveAdverseEventForm(prefix=f"resolve-{event_id}")

    def write() -> Confirmation:
        resolve_adverse_event(
            current_user,
            session_id,
            event_id,
            entered_time(form, form.resolved_at),
            AdverseEventOutcome(form.outcome.data),
        )
        row = f"adverse_event-{event_id}"
        return Confirmation("adverse-events", "Resolution recorded.", row)

    return save_or_show_again(
        session_id,
        form,
        write,
        shown_again=ShownAgain(resolve_forms={event_id: form}),
        anchor=f"adverse_event-{event_id}",
    )
