"""Migration 0009 (consents as records) upgrades a database holding sessions opened with the old
"consent on file" checkbox: each session keeps the value it was opened with, no consent is made
up from a tick, the session's signed content is what it was, and the chart still says what the
checkbox said. On SQLite and, with TEST_DATABASE_URL, on PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import flask_migrate
import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from clinic.database import UTCDateTime
from clinic.extensions import db as _db
from clinic.patients.consents.models import Consent, ConsentType
from clinic.sessions.digest import canonical_content
from clinic.sessions.models import InfusionSession, Route
from tests.conftest import PASSWORD, login
from tests.test_migration_data import empty_app, revision_before  # noqa: F401 (a fixture)

STARTED = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def insert(table: str, values: dict[str, Any], times: tuple[str, ...] = ()) -> int:
    """A row as the app before 0009 wrote it, in plain SQL (today's models no longer match)."""
    columns = ", ".join(values)
    params = ", ".join(f":{name}" for name in values)
    statement = sa.text(f"INSERT INTO {table} ({columns}) VALUES ({params}) RETURNING id")
    statement = statement.bindparams(*(sa.bindparam(n, type_=UTCDateTime()) for n in times))
    with _db.engine.begin() as conn:
        return conn.execute(statement, values).scalar_one()


def session_of_0008(patient_id: int, nurse_id: int, consent_on_file: bool, minutes: int) -> int:
    return insert(
        "infusion_session",
        {
            "patient_id": patient_id,
            "indication": "depression",
            "route": "iv",
            "attending_clinician_id": nurse_id,
            "nurse_id": nurse_id,
            "started_at": STARTED.replace(minute=minutes),
            "consent_on_file": consent_on_file,
            "fasting_confirmed": True,
            "status": "in_progress",
            "created_at": STARTED.replace(minute=minutes),
            "created_by_id": nurse_id,
            "version": 1,
        },
        times=("started_at", "created_at"),
    )


def test_sessions_keep_their_consent_checkbox_and_their_signed_content(empty_app) -> None:  # noqa: F811
    flask_migrate.upgrade(revision=revision_before("0009_consent_records"))
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
            "session_token": uuid.uuid4().hex,
            "created_at": STARTED,
        },
        times=("created_at",),
    )
    patient = insert(
        "patient",
        {
            "mrn": "BEFORE-1",
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
    ticked = session_of_0008(patient, nurse, True, 0)
    unticked = session_of_0008(patient, nurse, False, 30)

    flask_migrate.upgrade()

    rows = _db.session.execute(
        sa.select(
            InfusionSession.id, InfusionSession.consent_on_file, InfusionSession.consent_id
        ).order_by(InfusionSession.id)
    ).all()
    assert [tuple(row) for row in rows] == [(ticked, True, None), (unticked, False, None)]
    # No consent is made up from a tick: it named no document, route, date or witness.
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(Consent)) == 0
    seeded = {t.code: t.route for t in _db.session.scalars(sa.select(ConsentType))}
    assert seeded["iv_ketamine"] == Route.IV
    assert seeded["intranasal_esketamine"] == Route.INTRANASAL
    assert set(seeded.values()) == set(Route)

    # The signed content is the header as it was before 0009: no key for the consent record,
    # so a signature given before the upgrade still matches.
    header = canonical_content(ticked)["session"]
    assert "consent_id" not in header
    assert header["consent_on_file"] is True
    assert sorted(header) == sorted(
        [
            "id",
            "patient_id",
            "indication",
            "route",
            "attending_clinician_id",
            "nurse_id",
            "started_at",
            "consent_on_file",
            "fasting_confirmed",
            "weight_kg",
            "discharged_at",
            "discharged_with",
            "cancelled_at",
            "cancel_reason",
            "created_at",
            "created_by_id",
        ]
    )

    client = empty_app.test_client()
    assert login(client, "nurse.before").status_code == 302
    for session_id, said in ((ticked, "on file"), (unticked, "NOT on file")):
        page = " ".join(client.get(f"/sessions/{session_id}").get_data(as_text=True).split())
        assert f"Consent {said} (checkbox, before consents were recorded)" in page
