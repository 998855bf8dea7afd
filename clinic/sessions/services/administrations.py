"""Administrations and the infusion events on them, stored exactly as entered.

Nothing here computes, suggests or totals a dose, a rate or a volume."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa

from clinic.auth.models import Role, User
from clinic.extensions import db
from clinic.sessions.entries import (
    ChartError,
    audit_values,
    begin_entry,
    require_time_in_session,
    store_entry,
)
from clinic.sessions.models import (
    Administration,
    InfusionEvent,
    InfusionEventKind,
    Method,
    Route,
)
from clinic.sessions.services.staff import require_active
from clinic.submissions import Saved


@dataclass(frozen=True)
class AdministrationDetails:
    drug: str
    route: Route
    method: Method
    dose_amount: Decimal
    dose_unit: str
    rate_amount: Decimal | None
    rate_unit: str | None
    started_at: datetime
    ended_at: datetime | None
    site: str
    lot_number: str
    ordering_clinician_id: int | None
    note: str


@dataclass(frozen=True)
class InfusionEventDetails:
    kind: InfusionEventKind
    occurred_at: datetime
    rate_amount: Decimal | None = None
    rate_unit: str | None = None
    bolus_amount: Decimal | None = None
    bolus_unit: str | None = None
    note: str = ""


def record_administration(
    actor: User, session_id: int, details: AdministrationDetails, submission_key: str | None
) -> Saved[Administration]:
    infusion_session, earlier = begin_entry(Administration, session_id, submission_key, actor=actor)
    if earlier is not None:
        return earlier
    require_active(
        details.ordering_clinician_id, Role.CLINICIAN, "ordering_clinician_id", "clinician"
    )
    require_time_in_session(infusion_session, details.started_at, "started_at")
    require_time_in_session(infusion_session, details.ended_at, "ended_at")
    if details.ended_at is not None and details.ended_at < details.started_at:
        # Checked here as well as on the form: an untouched start is stamped "now" at saving.
        raise ChartError("The end is before the start.", "ended_at")
    administration = Administration(
        session_id=infusion_session.id, recorded_by_id=actor.id, **asdict(details)
    )
    return store_entry(
        actor,
        administration,
        patient_id=infusion_session.patient_id,
        action="administration_recorded",
        changes={"session_id": [None, infusion_session.id], **audit_values(details)},
        submission_key=submission_key,
    )


def record_infusion_event(
    actor: User,
    session_id: int,
    administration_id: int,
    details: InfusionEventDetails,
    submission_key: str | None,
) -> Saved[InfusionEvent]:
    infusion_session, earlier = begin_entry(
        InfusionEvent,
        session_id,
        submission_key,
        actor=actor,
        same_form=lambda e: e.administration_id == administration_id,
    )
    if earlier is not None:
        return earlier
    administration = db.session.scalar(
        sa.select(Administration).where(
            Administration.id == administration_id, Administration.session_id == session_id
        )
    )
    if administration is None:
        raise ChartError("This administration is not part of this session.")
    require_time_in_session(infusion_session, details.occurred_at, "occurred_at")
    if administration.method != Method.INFUSION:
        raise ChartError("Infusion events are recorded only for an infusion.")
    if administration.is_voided:
        raise ChartError("This administration was voided; it takes no more events.")
    stopped = db.session.scalar(
        sa.select(InfusionEvent.occurred_at)
        .where(
            InfusionEvent.administration_id == administration.id,
            InfusionEvent.kind == InfusionEventKind.STOPPED,
            InfusionEvent.voided_at.is_(None),
        )
        .limit(1)
    )
    if stopped is not None:
        raise ChartError(
            "This infusion has been stopped; it takes no more events. "
            "Record a new administration if it is restarted."
        )
    event = InfusionEvent(
        session_id=infusion_session.id,
        administration_id=administration.id,
        recorded_by_id=actor.id,
        **asdict(details),
    )
    return store_entry(
        actor,
        event,
        patient_id=infusion_session.patient_id,
        action="infusion_event_recorded",
        changes={
            "session_id": [None, infusion_session.id],
            "administration_id": [None, administration.id],
            **audit_values(details),
        },
        submission_key=submission_key,
    )
