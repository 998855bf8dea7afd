"""Adverse events during a session, and their resolution.

A rescue medicine given for an event is an administration with purpose rescue (a PRN order)
that names the event (services/administrations.py); it never moves T+0 nor the observation
clock. Pausing, slowing or stopping an infusion is also charted as the infusion event it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from clinic.audit.services import record_audit_event
from clinic.auth.models import User
from clinic.extensions import db
from clinic.sessions.entries import (
    ChartError,
    EntryNotFoundError,
    begin_entry,
    require_time_in_session,
    store_entry,
)
from clinic.sessions.guards import lock_session_for_change
from clinic.sessions.models import (
    AdverseEvent,
    AdverseEventAction,
    AdverseEventOutcome,
    AdverseEventSeverity,
    AdverseEventType,
)
from clinic.submissions import Saved


@dataclass(frozen=True)
class AdverseEventDetails:
    occurred_at: datetime
    type: AdverseEventType
    severity: AdverseEventSeverity
    actions: list[str] = field(default_factory=list)
    resolved_at: datetime | None = None
    outcome: AdverseEventOutcome | None = None
    note: str = ""


def _check_resolution(
    event_start: datetime, resolved_at: datetime | None, outcome: AdverseEventOutcome | None
) -> None:
    if resolved_at is not None and resolved_at < event_start:
        raise ChartError("The resolution is before the onset.", "resolved_at")
    if outcome == AdverseEventOutcome.RESOLVED and resolved_at is None:
        raise ChartError("Enter when it resolved.", "resolved_at")
    if resolved_at is not None and outcome is None:
        raise ChartError("Choose the outcome.", "outcome")


def _trail_values(details: AdverseEventDetails) -> dict[str, Any]:
    """The entered values as the trail holds them (the actions' list as it is: a JSON column)."""
    return {
        "occurred_at": details.occurred_at.isoformat(),
        "type": details.type.value,
        "severity": details.severity.value,
        "actions": list(details.actions),
        "resolved_at": details.resolved_at.isoformat() if details.resolved_at else None,
        "outcome": details.outcome.value if details.outcome else None,
        "note": details.note,
    }


def record_adverse_event(
    actor: User, session_id: int, details: AdverseEventDetails, submission_key: str | None
) -> Saved[AdverseEvent]:
    infusion_session, earlier = begin_entry(AdverseEvent, session_id, submission_key, actor=actor)
    if earlier is not None:
        return earlier
    require_time_in_session(infusion_session, details.occurred_at, "occurred_at")
    require_time_in_session(infusion_session, details.resolved_at, "resolved_at")
    _check_resolution(details.occurred_at, details.resolved_at, details.outcome)
    if set(details.actions) - {a.value for a in AdverseEventAction}:
        raise ChartError("Choose from the actions listed.", "actions")
    event = AdverseEvent(
        session_id=infusion_session.id,
        recorded_by_id=actor.id,
        occurred_at=details.occurred_at,
        type=details.type,
        severity=details.severity,
        actions=list(details.actions),
        resolved_at=details.resolved_at,
        outcome=details.outcome,
        note=details.note.strip(),
    )
    return store_entry(
        actor,
        event,
        patient_id=infusion_session.patient_id,
        action="adverse_event_recorded",
        changes={"session_id": infusion_session.id, **_trail_values(details)},
        submission_key=submission_key,
    )


def resolve_adverse_event(
    actor: User,
    session_id: int,
    event_id: int,
    resolved_at: datetime,
    outcome: AdverseEventOutcome,
) -> AdverseEvent:
    """Record when an event resolved and how it ended (audited). Once recorded, a second post
    of the same answer stores nothing; a different one is refused (void and record again)."""
    infusion_session = lock_session_for_change(session_id)
    event = db.session.scalar(
        sa.select(AdverseEvent).where(
            AdverseEvent.id == event_id, AdverseEvent.session_id == session_id
        )
    )
    if event is None:
        raise EntryNotFoundError(event_id)
    if event.is_voided:
        raise ChartError("This adverse event was voided.")
    require_time_in_session(infusion_session, resolved_at, "resolved_at")
    _check_resolution(event.occurred_at, resolved_at, outcome)
    if event.resolved_at is not None:
        if event.resolved_at == resolved_at and event.outcome == outcome:
            return event  # a double tap
        raise ChartError("This event's resolution is already recorded.", "resolved_at")
    before = {"resolved_at": None, "outcome": event.outcome.value if event.outcome else None}
    event.resolved_at = resolved_at
    event.outcome = outcome
    record_audit_event(
        actor_id=actor.id,
        action="adverse_event_resolved",
        entity="adverse_event",
        entity_id=event.id,
        patient_id=infusion_session.patient_id,
        changes={
            "resolved_at": [before["resolved_at"], resolved_at.isoformat()],
            "outcome": [before["outcome"], outcome.value],
        },
    )
    return event


def adverse_events_of(session_id: int) -> list[AdverseEvent]:
    return list(
        db.session.scalars(
            sa.select(AdverseEvent)
            .where(AdverseEvent.session_id == session_id)
            .order_by(AdverseEvent.occurred_at, AdverseEvent.id)
        ).unique()
    )
