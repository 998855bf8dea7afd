"""Writes to the chart: opening and ending a session, administrations, infusion events, monitoring.

Each write locks the session row first (`lock_session_for_change`), so a sign-off that lands
between a nurse loading the form and posting it is seen and refused; then it looks up the form's
one-time key, so a double tap stores one entry. The audit event is written in the same
transaction; the caller (view, CLI, test) commits once.

Nothing here computes, suggests or totals a dose, a rate or a volume: values are stored as given.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from clinic.audit.services import diff, record_audit_event
from clinic.auth.models import Role, User
from clinic.clinic_time import format_local
from clinic.extensions import db
from clinic.patients.models import Indication, Patient
from clinic.sessions.entries import ChartError, begin_entry, store_entry
from clinic.sessions.guards import lock_session_for_change
from clinic.sessions.models import (
    Administration,
    Dissociation,
    InfusionEvent,
    InfusionEventKind,
    InfusionSession,
    Method,
    MonitoringEntry,
    Nausea,
    Phase,
    Route,
)
from clinic.sessions.vitals import PLAUSIBLE, implausibility
from clinic.submissions import Saved, earlier_entry


@dataclass(frozen=True)
class SessionDetails:
    indication: Indication
    route: Route
    attending_clinician_id: int
    nurse_id: int
    started_at: datetime
    consent_on_file: bool
    fasting_confirmed: bool
    weight_kg: Decimal | None


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


@dataclass(frozen=True)
class MonitoringDetails:
    phase: Phase
    occurred_at: datetime
    systolic_bp: int | None = None
    diastolic_bp: int | None = None
    heart_rate: int | None = None
    spo2: int | None = None
    respiratory_rate: int | None = None
    temperature_c: Decimal | None = None
    sedation_moaas: int | None = None
    dissociation: Dissociation | None = None
    nausea: Nausea | None = None
    pain_nrs: int | None = None
    note: str = ""

    def is_empty(self) -> bool:
        values = asdict(self)
        del values["phase"], values["occurred_at"], values["note"]
        return all(v is None for v in values.values()) and not self.note.strip()


def _audit_values(details: Any) -> dict[str, Any]:
    """The entered values as audit `changes` ({field: [None, value]}), nothing derived."""
    return diff({}, {k: v for k, v in asdict(details).items() if v not in (None, "")})


# Built once: the chart lists the clinicians on every view.
ACTIVE_STAFF = (
    sa.select(User)
    .where(User.role == sa.bindparam("role"), User.active.is_(True))
    .order_by(sa.func.lower(User.full_name))
)


def active_staff(role: Role) -> list[User]:
    return list(db.session.scalars(ACTIVE_STAFF, {"role": role}))


def _require_active(user_id: int | None, role: Role, field: str, what: str) -> None:
    if user_id is None:
        return
    user = db.session.get(User, user_id)
    if user is None or not user.active or user.role != role:
        raise ChartError(f"Choose an active {what}.", field=field)


def open_session(
    actor: User, patient_id: int, details: SessionDetails, submission_key: str | None
) -> Saved[InfusionSession]:
    """Open a session for the patient. The patient row is locked so a double post is seen."""
    patient = db.session.scalar(
        sa.select(Patient).where(Patient.id == patient_id).with_for_update()
    )
    if patient is None:
        raise ChartError("This patient does not exist.")
    earlier = earlier_entry(
        InfusionSession, submission_key, actor=actor, belongs=lambda s: s.patient_id == patient.id
    )
    if earlier is not None:
        return earlier
    _require_active(
        details.attending_clinician_id, Role.CLINICIAN, "attending_clinician_id", "clinician"
    )
    _require_active(details.nurse_id, Role.NURSE, "nurse_id", "nurse")
    infusion_session = InfusionSession(
        patient_id=patient.id,
        created_by_id=actor.id,
        **asdict(details),
    )
    return store_entry(
        actor,
        infusion_session,
        patient_id=patient.id,
        action="session_opened",
        changes=_audit_values(details),
        submission_key=submission_key,
    )


def record_administration(
    actor: User, session_id: int, details: AdministrationDetails, submission_key: str | None
) -> Saved[Administration]:
    infusion_session, earlier = begin_entry(Administration, session_id, submission_key, actor=actor)
    if earlier is not None:
        return earlier
    _require_active(
        details.ordering_clinician_id, Role.CLINICIAN, "ordering_clinician_id", "clinician"
    )
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
        changes={"session_id": [None, infusion_session.id], **_audit_values(details)},
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
        changes={"administration_id": [None, administration.id], **_audit_values(details)},
        submission_key=submission_key,
    )


def record_monitoring(
    actor: User, session_id: int, details: MonitoringDetails, submission_key: str | None
) -> Saved[MonitoringEntry]:
    infusion_session, earlier = begin_entry(
        MonitoringEntry, session_id, submission_key, actor=actor
    )
    if earlier is not None:
        return earlier
    if details.is_empty():
        raise ChartError("Enter at least one value or a note.")
    # The same limits as the form: the record refuses them whichever way they come in.
    for name in PLAUSIBLE:
        message = implausibility(name, getattr(details, name, None))
        if message:
            raise ChartError(message, name)
    if (
        details.systolic_bp is not None
        and details.diastolic_bp is not None
        and details.diastolic_bp >= details.systolic_bp
    ):
        raise ChartError("Diastolic must be below systolic.", "diastolic_bp")
    entry = MonitoringEntry(
        session_id=infusion_session.id, recorded_by_id=actor.id, **asdict(details)
    )
    return store_entry(
        actor,
        entry,
        patient_id=infusion_session.patient_id,
        action="monitoring_recorded",
        changes={"session_id": [None, infusion_session.id], **_audit_values(details)},
        submission_key=submission_key,
    )


# Two posts of an untouched discharge time are stamped "now" a moment apart.
DOUBLE_TAP_WINDOW = timedelta(minutes=2)


class StaleSessionError(ChartError):
    """The session changed since the form was loaded: a save now would overwrite it unseen."""


def end_session(
    actor: User,
    session_id: int,
    discharged_at: datetime,
    discharged_with: str,
    expected_version: int,
) -> None:
    """Record the discharge time and who the patient left with (a correction is audited too).

    `expected_version` is the session's version when the form was loaded: if someone recorded or
    corrected the discharge since, this save is refused instead of silently replacing theirs.
    """
    infusion_session = lock_session_for_change(session_id)
    already_recorded = (
        infusion_session.discharged_at is not None
        and abs(infusion_session.discharged_at - discharged_at) < DOUBLE_TAP_WINDOW
        and infusion_session.discharged_with == discharged_with.strip()
    )
    if already_recorded:  # a double tap: the first post recorded this (its "now" a moment ago)
        return
    if expected_version != infusion_session.version:
        recorded = (
            f" It now says: left at {format_local(infusion_session.discharged_at, '%H:%M')} "
            f"with {infusion_session.discharged_with}."
            if infusion_session.discharged_at
            else ""
        )
        raise StaleSessionError(
            "Someone else changed this session since you opened the chart."
            + recorded
            + " Check your entry and save again if it is still right."
        )
    if discharged_at < infusion_session.started_at:
        raise ChartError("The discharge time is before the session started.", "discharged_at")
    before = {
        "discharged_at": infusion_session.discharged_at,
        "discharged_with": infusion_session.discharged_with,
    }
    infusion_session.discharged_at = discharged_at
    infusion_session.discharged_with = discharged_with.strip()
    changes = diff(
        before,
        {"discharged_at": discharged_at, "discharged_with": infusion_session.discharged_with},
    )
    if not changes:
        return
    record_audit_event(
        actor_id=actor.id,
        action="session_ended",
        entity="infusion_session",
        entity_id=infusion_session.id,
        patient_id=infusion_session.patient_id,
        changes=changes,
    )
