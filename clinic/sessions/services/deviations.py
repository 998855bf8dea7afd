"""A clinician acknowledges an administration's deviation from its order, with a note: the
session cannot be signed before every deviation on it is acknowledged."""

from __future__ import annotations

import sqlalchemy as sa

from clinic.audit.services import record_audit_event
from clinic.auth.models import Role, User
from clinic.database import utcnow
from clinic.extensions import db
from clinic.sessions.deviations import deviations_of
from clinic.sessions.entries import ChartError, EntryNotFoundError
from clinic.sessions.guards import lock_session_for_change
from clinic.sessions.models import Administration


def acknowledge_deviation(
    actor: User, session_id: int, administration_id: int, note: str
) -> Administration:
    if actor.role != Role.CLINICIAN:
        raise PermissionError("Only clinicians acknowledge a deviation from an order.")
    infusion_session = lock_session_for_change(session_id)
    administration = db.session.scalar(
        sa.select(Administration)
        .where(Administration.id == administration_id, Administration.session_id == session_id)
        .execution_options(populate_existing=True)
    )
    if administration is None:
        raise EntryNotFoundError(administration_id)
    note = note.strip()
    if not note:
        raise ChartError("Write what you found and decided.", "note")
    if administration.is_voided or not deviations_of(administration, administration.order):
        raise ChartError("This administration has no deviation to acknowledge.")
    if administration.deviation_acknowledged_at is not None:
        raise ChartError("This deviation was acknowledged already.")
    administration.deviation_acknowledged_at = utcnow()
    administration.deviation_acknowledged_by_id = actor.id
    administration.deviation_note = note
    db.session.flush()
    record_audit_event(
        actor_id=actor.id,
        action="deviation_acknowledged",
        entity=Administration.__tablename__,
        entity_id=administration.id,
        patient_id=infusion_session.patient_id,
        changes={
            "deviation_acknowledged_at": [
                None,
                administration.deviation_acknowledged_at.isoformat(),
            ],
            "deviation_acknowledged_by_id": [None, actor.id],
            "deviation_note": [None, note],
        },
    )
    return administration
