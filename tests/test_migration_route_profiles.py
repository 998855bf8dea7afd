"""Migrations 0014 and 0014b (route profiles, screening, adverse events) upgrade a database
holding administrations recorded before purposes existed: each is the treatment it always was,
so T+0 and the observation clock read them as before, and a signed session's content (its
digest) is unchanged; no screening or adverse event is made up.
On SQLite and, with TEST_DATABASE_URL, on PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import flask_migrate
import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from clinic.extensions import db as _db
from clinic.sessions.digest import canonical_content
from clinic.sessions.models import (
    Administration,
    AdministrationPurpose,
    AdverseEvent,
    InfusionSession,
    Screening,
)
from tests.conftest import PASSWORD
from tests.test_migration_consent import insert
from tests.test_migration_data import empty_app, revision_before  # noqa: F401 (a fixture)

STARTED = datetime(2026, 11, 5, 9, 0, tzinfo=UTC)


def test_administrations_before_purposes_are_the_treatment_and_signed_content_holds(
    empty_app,  # noqa: F811
) -> None:
    flask_migrate.upgrade(revision=revision_before("0014_screening_and_profiles"))
    nurse = insert(
        "user_account",
        {
            "username": "nurse.before",
            "full_name": "Nurse Before",
            "credentials": "RN",
            "role": "nurse",
            "password_hash": generate_password_hash(PASSWORD, "scrypt:1024:8:1"),
            "active": True,
            "must_change_password": False,
            "must_enrol_second_factor": False,
            "session_token": uuid.uuid4().hex,
            "created_at": STARTED,
        },
        times=("created_at",),
    )
    patient = insert(
        "patient",
        {
            "mrn": "BEFORE-14",
            "family_name": "Before",
            "given_name": "Ann",
            "date_of_birth": datetime(1980, 1, 1).date(),
            "sex": "female",
            "allergies": "",
            "indication": "depression",
            "emergency_contact_name": "",
            "emergency_contact_phone": "",
            "created_at": STARTED,
            "updated_at": STARTED,
            "version": 1,
        },
        times=("created_at", "updated_at"),
    )
    session_id = insert(
        "infusion_session",
        {
            "patient_id": patient,
            "indication": "depression",
            "route": "intranasal",
            "attending_clinician_id": nurse,
            "nurse_id": nurse,
            "started_at": STARTED,
            "consent_on_file": True,
            "fasting_confirmed": True,
            "status": "in_progress",
            "discharged_at": STARTED + timedelta(minutes=105),
            "discharged_with": "Sam Doe",
            "created_at": STARTED,
            "created_by_id": nurse,
            "version": 1,
        },
        times=("started_at", "created_at", "discharged_at"),
    )
    for minutes in (5, 10):
        insert(
            "administration",
            {
                "session_id": session_id,
                "drug": "Esketamine",
                "route": "intranasal",
                "method": "spray",
                "dose_amount": "28",
                "dose_unit": "mg",
                "started_at": STARTED + timedelta(minutes=minutes),
                "site": "",
                "lot_number": "",
                "note": "",
                "recorded_at": STARTED + timedelta(minutes=minutes),
                "recorded_by_id": nurse,
            },
            times=("started_at", "recorded_at"),
        )
    flask_migrate.upgrade()

    purposes = _db.session.scalars(sa.select(Administration.purpose)).all()
    assert purposes == [AdministrationPurpose.TREATMENT, AdministrationPurpose.TREATMENT]
    # The signed content is what it was before 0014: no key for the purpose nor the override,
    # so a signature given before the upgrade still matches.
    content = canonical_content(session_id)
    assert all("purpose" not in row for row in content["administrations"])
    assert not any(key.startswith("discharge_override") for key in content["session"])
    # No adverse event is made up from notes (0014b), and no administration names one.
    assert _db.session.scalars(sa.select(AdverseEvent)).all() == []
    assert _db.session.scalars(sa.select(Administration.adverse_event_id)).all() == [None, None]
    # No screening is made up for sessions before screenings: their chart says "not screened".
    assert _db.session.scalars(sa.select(Screening)).all() == []
    stored = _db.session.get(InfusionSession, session_id)
    # Discharged at T+105 before the rule existed: kept as recorded, no override made up.
    assert stored.discharged_at == STARTED + timedelta(minutes=105)
    assert stored.discharge_override_reason is None
