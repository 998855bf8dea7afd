"""Storing a new entry in a session's record: the steps every create shares.

A create is: lock the session (guards.lock_session_for_change), look for the form's one-time key
(clinic.submissions.earlier_entry: a double tap or a retry finds the first post's entry and stores
nothing), check the rules, then `store_entry`: add, audit in the same transaction, remember the key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any, TypeVar

from flask import current_app

from clinic.audit.services import diff, record_audit_event
from clinic.auth.models import User
from clinic.clinic_time import format_local
from clinic.database import utcnow
from clinic.extensions import db
from clinic.field_errors import FieldError
from clinic.sessions.guards import lock_session_for_change
from clinic.sessions.models import InfusionSession
from clinic.submissions import Saved, earlier_entry, remember_submission

T = TypeVar("T")


class ChartError(FieldError):
    """A write the record cannot take, with a message for the user (and the field, if any)."""


class EntryNotFoundError(LookupError):
    """No such entry (or checklist item) in this session."""


def begin_entry(
    model: type[T],
    session_id: int,
    submission_key: str | None,
    *,
    actor: User,
    same_form: Callable[[T], bool] = lambda entry: True,
) -> tuple[InfusionSession, Saved[T] | None]:
    """Lock the session for a new entry (refused once signed) and find the entry an earlier
    post of this form stored, if any: the steps every create on a session starts with."""
    infusion_session = lock_session_for_change(session_id)
    earlier = earlier_entry(
        model,
        submission_key,
        actor=actor,
        belongs=lambda entry: entry.session_id == session_id and same_form(entry),  # type: ignore[attr-defined]
    )
    return infusion_session, earlier


def require_time_in_session(
    infusion_session: InfusionSession, moment: datetime | None, field: str
) -> None:
    """A charted time lies within its session: from a little before its start (a baseline taken
    while it was being opened, ENTRY_MINUTES_BEFORE_START) to a little after now (a tablet clock
    running fast, ENTRY_MINUTES_AHEAD). Refused next to `field` otherwise."""
    if moment is None:
        return
    minutes = current_app.config["ENTRY_MINUTES_BEFORE_START"]
    if moment < infusion_session.started_at - timedelta(minutes=minutes):
        raise ChartError(
            f"This time is more than {minutes} minutes before the session started "
            f"({format_local(infusion_session.started_at)}).",
            field,
        )
    require_not_ahead(moment, field)


def require_not_ahead(moment: datetime, field: str) -> None:
    """The time has happened (give or take ENTRY_MINUTES_AHEAD of clock difference)."""
    if moment > utcnow() + timedelta(minutes=current_app.config["ENTRY_MINUTES_AHEAD"]):
        raise ChartError("This time is in the future.", field)


def store_entry(
    actor: User,
    entry: T,
    *,
    patient_id: int,
    action: str,
    changes: dict[str, Any],
    submission_key: str | None,
) -> Saved[T]:
    db.session.add(entry)
    db.session.flush()
    entity = entry.__tablename__  # type: ignore[attr-defined]
    entry_id = entry.id  # type: ignore[attr-defined]
    # Before the audit event, which writes what is pending first: the audit chain stays locked
    # from its append to the commit, and every audited request of the clinic waits on it.
    remember_submission(submission_key, actor.id, entity, entry_id)
    record_audit_event(
        actor_id=actor.id,
        action=action,
        entity=entity,
        entity_id=entry_id,
        patient_id=patient_id,
        changes={**changes, **_system_time(entry)},
    )
    return Saved(entry)


def _system_time(entry: Any) -> dict[str, str]:
    """When the entry was stored (shown on the chart next to who recorded it), for the trail."""
    return {
        name: getattr(entry, name).isoformat()
        for name in ("recorded_at", "created_at")
        if getattr(entry, name, None) is not None
    }


def audit_values(details: Any) -> dict[str, Any]:
    """The entered values as audit `changes` ({field: [None, value]}), nothing derived."""
    return diff({}, {k: v for k, v in asdict(details).items() if v not in (None, "")})
