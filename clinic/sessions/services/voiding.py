"""Voiding an entry: it stays on the chart, struck through, with who voided it and why."""

from __future__ import annotations

from typing import Any

from clinic.audit.services import record_audit_event
from clinic.auth.models import Role, User
from clinic.database import utcnow
from clinic.extensions import db
from clinic.sessions.entries import ChartError, EntryNotFoundError
from clinic.sessions.guards import lock_session_for_change
from clinic.sessions.models import (
    Administration,
    AdverseEvent,
    ChecklistCompletion,
    DischargeAssessment,
    InfusionEvent,
    MonitoringEntry,
    Score,
)
from clinic.submissions import Saved

# What can be voided, by the name used in URLs and the void macro.
VOIDABLE: dict[str, type[Any]] = {
    "administration": Administration,
    "infusion_event": InfusionEvent,
    "monitoring": MonitoringEntry,
    "score": Score,
    "checklist": ChecklistCompletion,
    "adverse_event": AdverseEvent,
    "discharge_assessment": DischargeAssessment,
}


class VoidNotAllowedError(PermissionError):
    """Nurses void only what they recorded; admins nothing."""


def may_void(user: Any, entry: Any) -> bool:
    """Clinicians void any entry; nurses only what they recorded; admins nothing."""
    role = getattr(user, "role", None)
    if role == Role.CLINICIAN:
        return True
    return role == Role.NURSE and entry.recorded_by_id == user.id


def void_entry(actor: User, session_id: int, kind: str, entry_id: int, reason: str) -> Saved[Any]:
    """Mark an entry voided. It stays on the chart; `created` is False if it already was."""
    model = VOIDABLE.get(kind)
    if model is None:
        raise EntryNotFoundError(kind)
    infusion_session = lock_session_for_change(session_id)
    entry = db.session.get(model, entry_id, populate_existing=True)
    if entry is None or entry.session_id != infusion_session.id:
        raise EntryNotFoundError(entry_id)
    if not may_void(actor, entry):
        raise VoidNotAllowedError(kind)
    if entry.is_voided:  # a double tap: the first post did it
        return Saved(entry, created=False)
    reason = (reason or "").strip()
    if not reason:
        raise ChartError("Give the reason for voiding.", "reason")
    entry.voided_at = utcnow()
    entry.voided_by_id = actor.id
    entry.void_reason = reason
    record_audit_event(
        actor_id=actor.id,
        action="entry_voided",
        entity=model.__tablename__,
        entity_id=entry.id,
        patient_id=infusion_session.patient_id,
        changes={"kind": kind, "reason": reason, "voided_at": entry.voided_at.isoformat()},
    )
    return Saved(entry)
