"""Discharge readiness: a modified Aldrete assessment (each item entered, the total their sum),
the escort confirmed from the screening's record (not a second name), and the version of the
post-treatment instructions given. A discharge below the configured total waits for a
clinician's override with a reason (services/discharge.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from clinic.auth.models import User
from clinic.extensions import db
from clinic.sessions.entries import ChartError, begin_entry, require_time_in_session, store_entry
from clinic.sessions.models import ALDRETE_ITEMS, DischargeAssessment, InstructionText
from clinic.sessions.services.screening import screening_of
from clinic.submissions import Saved


@dataclass(frozen=True)
class AssessmentDetails:
    occurred_at: datetime
    activity: int
    respiration: int
    circulation: int
    consciousness: int
    spo2: int
    escort_confirmed: bool
    instruction_id: int | None
    note: str = ""


def active_instructions() -> list[InstructionText]:
    return list(
        db.session.scalars(
            sa.select(InstructionText)
            .where(InstructionText.active.is_(True))
            .order_by(InstructionText.code, InstructionText.id)
        )
    )


def latest_assessment(session_id: int) -> DischargeAssessment | None:
    return db.session.scalar(
        sa.select(DischargeAssessment)
        .where(
            DischargeAssessment.session_id == session_id,
            DischargeAssessment.voided_at.is_(None),
        )
        .order_by(DischargeAssessment.occurred_at.desc(), DischargeAssessment.id.desc())
        .limit(1)
    )


def assessments_of(session_id: int) -> list[DischargeAssessment]:
    return list(
        db.session.scalars(
            sa.select(DischargeAssessment)
            .where(DischargeAssessment.session_id == session_id)
            .order_by(DischargeAssessment.occurred_at, DischargeAssessment.id)
        ).unique()
    )


def record_discharge_assessment(
    actor: User, session_id: int, details: AssessmentDetails, submission_key: str | None
) -> Saved[DischargeAssessment]:
    infusion_session, earlier = begin_entry(
        DischargeAssessment, session_id, submission_key, actor=actor
    )
    if earlier is not None:
        return earlier
    require_time_in_session(infusion_session, details.occurred_at, "occurred_at")
    for item in ALDRETE_ITEMS:
        if getattr(details, item) not in (0, 1, 2):
            raise ChartError("Choose 0, 1 or 2.", item)
    if details.escort_confirmed:
        screening = screening_of(session_id)
        if screening is None or not screening.escort_present:
            raise ChartError(
                "No escort was recorded at screening: record the escort there first.",
                "escort_confirmed",
            )
    if details.instruction_id is None:
        raise ChartError("Choose the instructions given.", "instruction_id")
    instruction = db.session.get(InstructionText, details.instruction_id)
    if instruction is None or not instruction.active:
        raise ChartError("Choose one of the current instructions.", "instruction_id")
    total = sum(getattr(details, item) for item in ALDRETE_ITEMS)
    assessment = DischargeAssessment(
        session_id=infusion_session.id,
        recorded_by_id=actor.id,
        occurred_at=details.occurred_at,
        activity=details.activity,
        respiration=details.respiration,
        circulation=details.circulation,
        consciousness=details.consciousness,
        spo2=details.spo2,
        total=total,
        escort_confirmed=details.escort_confirmed,
        instruction_id=instruction.id,
        note=details.note.strip(),
    )
    return store_entry(
        actor,
        assessment,
        patient_id=infusion_session.patient_id,
        action="discharge_assessed",
        changes={
            "session_id": infusion_session.id,
            "occurred_at": details.occurred_at.isoformat(),
            **{item: getattr(details, item) for item in ALDRETE_ITEMS},
            "total": total,
            "escort_confirmed": details.escort_confirmed,
            "instruction_id": instruction.id,
            "note": assessment.note,
        },
        submission_key=submission_key,
    )
