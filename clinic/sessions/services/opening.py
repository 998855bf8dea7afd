"""Opening a session for a patient.

The patient row is locked so that a double post finds the first one's session; the form's
one-time key makes the second post return it instead of opening another. A session is opened only
for a route that a current consent of the patient covers on the day it starts (DESIGN.md §3);
the session keeps that consent's id."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app

from clinic.auth.models import Role, User
from clinic.clinic_time import to_local
from clinic.database import utcnow
from clinic.extensions import db
from clinic.patients.consents.services import current_consent_for
from clinic.patients.courses.models import TreatmentCourse
from clinic.patients.models import Indication, Patient
from clinic.sessions.entries import ChartError, audit_values, require_not_ahead, store_entry
from clinic.sessions.models import (
    InfusionSession,
    Route,
)
from clinic.sessions.services.staff import require_active
from clinic.submissions import Saved, earlier_entry


@dataclass(frozen=True)
class SessionDetails:
    indication: Indication
    route: Route
    attending_clinician_id: int
    nurse_id: int
    started_at: datetime
    fasting_confirmed: bool
    weight_kg: Decimal | None
    course_id: int | None = None


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
    require_start_in_window(details.started_at)
    require_active(
        details.attending_clinician_id, Role.CLINICIAN, "attending_clinician_id", "clinician"
    )
    require_active(details.nurse_id, Role.NURSE, "nurse_id", "nurse")
    consent = current_consent_for(patient.id, details.route, to_local(details.started_at).date())
    if consent is None:
        raise NoConsentError(details.route)
    require_active_course(patient.id, details.course_id)
    infusion_session = InfusionSession(
        patient_id=patient.id,
        created_by_id=actor.id,
        consent_on_file=True,
        consent_id=consent.id,
        **asdict(details),
    )
    return store_entry(
        actor,
        infusion_session,
        patient_id=patient.id,
        action="session_opened",
        changes={
            **audit_values(details),
            "consent_on_file": [None, True],
            "consent_id": [None, consent.id],
        },
        submission_key=submission_key,
    )


def require_active_course(patient_id: int, course_id: int | None) -> None:
    """A session belongs to the patient's active treatment course."""
    course = db.session.get(TreatmentCourse, course_id) if course_id else None
    if course is None or course.patient_id != patient_id:
        raise ChartError("Choose the patient's treatment course.", "course_id")
    if not course.is_active:
        raise ChartError(
            "This course has ended: a session opens under the patient's active course.",
            "course_id",
        )


class NoConsentError(ChartError):
    """No current consent of the patient covers the route on the session's day."""

    def __init__(self, route: Route) -> None:
        super().__init__(
            f"No current consent covers the {route.label} route on this day: record the "
            "patient's consent first, or choose a route a current consent covers.",
            "route",
        )
        self.route = route


def require_start_in_window(started_at: datetime) -> None:
    """A session is opened as it starts, or soon after (a chart caught up after a busy day):
    not ahead of now, and no further back than SESSION_START_MAX_DAYS_PAST days."""
    require_not_ahead(started_at, "started_at")
    days = current_app.config["SESSION_START_MAX_DAYS_PAST"]
    if started_at < utcnow() - timedelta(days=days):
        raise ChartError(
            f"A session is opened no later than {days} days after its start; check the date.",
            "started_at",
        )
