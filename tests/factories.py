"""Records for tests that need a clinical setting before the behaviour under test."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal

from clinic.auth.models import User
from clinic.database import utcnow
from clinic.extensions import db
from clinic.patients.models import Indication, Patient, Sex
from clinic.sessions import services
from clinic.sessions.models import InfusionSession, Phase, Route


def make_patient(
    indication: Indication = Indication.FIBROMYALGIA, family_name: str = "Doe"
) -> Patient:
    patient = Patient(
        mrn=f"MRN-{uuid.uuid4().hex[:8]}",
        family_name=family_name,
        given_name="Jane",
        date_of_birth=date(1980, 5, 17),
        sex=Sex.FEMALE,
        allergies="Penicillin",
        indication=indication,
    )
    db.session.add(patient)
    db.session.commit()
    return patient


def open_session_for(
    patient: Patient,
    nurse: User,
    clinician: User,
    *,
    route: Route = Route.IV,
    started_at: datetime | None = None,
) -> InfusionSession:
    written = services.open_session(
        nurse,
        patient.id,
        services.SessionDetails(
            indication=patient.indication,
            route=route,
            attending_clinician_id=clinician.id,
            nurse_id=nurse.id,
            started_at=started_at or utcnow().replace(microsecond=0) - timedelta(minutes=30),
            consent_on_file=True,
            fasting_confirmed=True,
            weight_kg=Decimal("70.5"),
        ),
        None,
    )
    db.session.commit()
    return db.session.get(InfusionSession, written.entity_id)


def record_vitals(infusion_session: InfusionSession, nurse: User, at: datetime) -> None:
    services.record_monitoring(
        nurse,
        infusion_session.id,
        services.MonitoringDetails(phase=Phase.DURING, occurred_at=at, heart_rate=72),
        None,
    )
    db.session.commit()
