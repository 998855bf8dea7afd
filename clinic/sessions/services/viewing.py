"""Every page that shows a session's record is a view of it, audited (invariant 6)."""

from __future__ import annotations

from clinic.audit.services import record_audit_event
from clinic.auth.models import User
from clinic.sessions.models import (
    InfusionSession,
)


def record_session_view(actor: User, infusion_session: InfusionSession, action: str) -> None:
    """Every page that shows a session's record is a view of it, audited (invariant 6)."""
    record_audit_event(
        actor_id=actor.id,
        action=action,
        entity="infusion_session",
        entity_id=infusion_session.id,
        patient_id=infusion_session.patient_id,
    )
