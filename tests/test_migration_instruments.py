"""Migration 0015 (instruments as data) upgrades a database holding PHQ-9 and pain scores from
before: every score keeps its total, band and flag, read now through its instrument's version 1;
an "after the session" PHQ-9 stays on the record, marked as taken after dosing; a signed session
still hashes to its signature. On SQLite and, with TEST_DATABASE_URL, on PostgreSQL."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import flask_migrate
import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from clinic.database import UTCDateTime
from clinic.extensions import db as _db
from clinic.instruments.models import InstrumentVersion
from clinic.patients.models import Patient
from clinic.sessions.digest import canonical_content
from clinic.sessions.models import RemsForm, Score, ScoreTiming
from clinic.sessions.score_rows import score_row
from tests.conftest import PASSWORD, login
from tests.test_migration_consent import insert
from tests.test_migration_data import empty_app, revision_before  # noqa: F401 (a fixture)

STARTED = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
SCORE_COLUMNS_OF_0013 = (
    "id",
    "session_id",
    "instrument",
    "timing",
    "occurred_at",
    "answers",
    "total",
    "risk_flag",
    "recorded_at",
    "recorded_by_id",
    "voided_at",
    "void_reason",
    "voided_by_id",
)

# (instrument, timing, answers, total, band, flag) as the app before 0015 scored and stored them.
BEFORE_0015 = [
    ("phq9", "before", [3, 3, 2, 2, 2, 2, 2, 1, 1], 18, "moderately severe", True),
    ("phq9", "after", [1, 1, 1, 1, 1, 1, 1, 1, 0], 8, "mild", False),
    ("phq9", "before", [0, 0, 0, 0, 0, 0, 0, 0, 0], 0, "minimal", False),
    ("phq9", "before", [3, 3, 3, 3, 3, 3, 3, 3, 3], 27, "severe", True),
    ("pain_nrs", "before", [7], 7, None, False),
    ("pain_nrs", "after", [2], 2, None, False),
]


def test_scores_keep_total_band_and_flag_and_after_phq9_is_marked(empty_app) -> None:  # noqa: F811
    flask_migrate.upgrade(revision=revision_before("0015_instruments"))
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
            "mrn": "BEFORE-15",
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
            "route": "iv",
            "attending_clinician_id": nurse,
            "nurse_id": nurse,
            "started_at": STARTED,
            "consent_on_file": True,
            "fasting_confirmed": True,
            "status": "in_progress",
            "created_at": STARTED,
            "created_by_id": nurse,
            "version": 1,
        },
        times=("started_at", "created_at"),
    )
    ids = []
    for minutes, (code, timing, answers, total, _band, flag) in enumerate(BEFORE_0015):
        at = STARTED + timedelta(minutes=minutes)
        with _db.engine.begin() as conn:
            ids.append(
                conn.execute(
                    sa.text(
                        "INSERT INTO score (session_id, instrument, timing, occurred_at, answers,"
                        " total, risk_flag, recorded_at, recorded_by_id) VALUES (:s, :i, :t, :o,"
                        " :a, :total, :flag, :r, :by) RETURNING id"
                    ).bindparams(
                        sa.bindparam("o", type_=UTCDateTime()),
                        sa.bindparam("r", type_=UTCDateTime()),
                        sa.bindparam("a", type_=sa.JSON()),
                    ),
                    {
                        "s": session_id,
                        "i": code,
                        "t": timing,
                        "o": at,
                        "r": at,
                        "a": answers,
                        "total": total,
                        "flag": flag,
                        "by": nurse,
                    },
                ).scalar_one()
            )
    _db.session.remove()

    flask_migrate.upgrade()

    loaded = {v.code for v in _db.session.scalars(sa.select(InstrumentVersion))}
    assert loaded >= {"phq9", "gad7", "pain_nrs", "cssrs", "cadss", "fiqr"}
    for score_id, (code, timing, answers, total, band, flag) in zip(ids, BEFORE_0015, strict=True):
        score = _db.session.get(Score, score_id)
        row = score_row(score)
        assert (score.instrument, score.answers, score.total) == (code, answers, total)
        assert (row.band, bool(row.flags), score.risk_flag) == (band, flag, flag), score_id
        assert score.instrument_version_id is None and row.definition.code == code
        assert row.outside_its_moment == (code == "phq9" and timing == "after")
        assert score.timing == ScoreTiming(timing)
    # Nothing of a score changed: its signed content holds the columns it held before 0015, so
    # a session signed before the upgrade still matches its signature.
    for content in canonical_content(session_id)["scores"]:
        assert sorted(content) == sorted(SCORE_COLUMNS_OF_0013)

    # 0015b: a patient registered before has an empty REMS patient ID, and no REMS form is made up.
    assert _db.session.get(Patient, patient).rems_patient_id == ""
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(RemsForm)) == 0

    client = empty_app.test_client()
    assert login(client, "nurse.before").status_code == 302
    html = client.get(f"/sessions/{session_id}").get_data(as_text=True)
    page = " ".join(re.sub(r"<[^>]+>", "", html).split())
    assert "18/27 · moderately severe" in page
    assert html.count('data-testid="score-after-dosing"') == 1
    assert "After dosing" in page
