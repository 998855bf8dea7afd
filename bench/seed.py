"""A realistic clinic, fast: staff through the real service, the record by Core bulk inserts.

The ORM would spend minutes on 300,000 objects; Core `insert()` with lists of parameter rows
(executemany, or multi-row VALUES on psycopg) writes the same rows in seconds. Ids are assigned
here so that children can point at their parents without a RETURNING round trip; the PostgreSQL
sequences are moved past them afterwards so the app's own inserts do not collide.

The values are plausible, not meaningful: doses are fixed figures as a clinician might enter them,
never derived from the weight (the app never computes a dose, and neither does its benchmark).
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from bench.seed_register import seed_register
from clinic.auth.models import Role
from clinic.extensions import db
from clinic.patients.models import Patient
from clinic.register.models import LedgerEntry, StockLot
from clinic.sessions.models import (
    Administration,
    ChecklistCompletion,
    ChecklistItem,
    InfusionSession,
    MonitoringEntry,
    Score,
    Signature,
)
from clinic.staff.services import StaffDetails, create_user

BATCH = 5_000
STAFF_PASSWORD = "bench-infusion-chair-2024"  # noqa: S105 - a throwaway database's only secret
NURSES = ("nurse1", "nurse2", "nurse3", "nurse4")
CLINICIANS = ("clinician1", "clinician2", "clinician3")
IN_PROGRESS_SESSIONS = 16  # today's chairs: the chart and the monitoring posts use these
LIGHT_PATIENT_SESSIONS = 5

FAMILY_NAMES = (
    "Anderson", "Baker", "Carter", "Davidson", "Edwards", "Fischer", "Garcia", "Harrison",
    "Ibrahim", "Jackson", "Kowalski", "Larsen", "Morrison", "Nguyen", "Okafor", "Peterson",
    "Quinn", "Robinson", "Schmidt", "Thompson", "Underwood", "Vasquez", "Wilson", "Xu",
    "Young", "Zimmerman", "Allen", "Brooks", "Coleman", "Dawson", "Ellison", "Foster",
    "Gibson", "Hughes", "Irving", "Jensen", "Keller", "Lambert", "Mason", "Nelson",
)  # fmt: skip
GIVEN_NAMES = (
    "Alex", "Beth", "Carlos", "Dana", "Elena", "Frank", "Grace", "Hiro", "Ines", "James",
    "Kara", "Liam", "Maya", "Noah", "Olga", "Pedro", "Rosa", "Sam", "Tara", "Umar",
    "Vera", "Will", "Yara", "Zoe", "Amir", "Bianca", "Chen", "Diego", "Emma", "Femi",
)  # fmt: skip
ROUTE_PLAN = (  # (route, method, drug, dose, unit, rate, rate unit), weighted towards IV
    ("iv", "infusion", "Ketamine hydrochloride", "35", "mg", "52.5", "mg/h"),
    ("iv", "infusion", "Ketamine hydrochloride", "42", "mg", "63", "mg/h"),
    ("iv", "infusion", "Ketamine hydrochloride", "50", "mg", "75", "mg/h"),
    ("im", "injection", "Ketamine hydrochloride", "40", "mg", None, None),
    ("intranasal", "spray", "Esketamine", "56", "mg", None, None),
)
# Minutes after the start, and phase, of the ten vitals of a session: baseline, dosing, recovery.
VITALS_PLAN = (
    (0, "baseline"), (10, "during"), (20, "during"), (30, "during"), (40, "during"),
    (50, "during"), (65, "recovery"), (80, "recovery"), (95, "recovery"), (110, "discharge"),
)  # fmt: skip


@dataclass
class SeedResult:
    """What the benchmark needs to know about the clinic it seeded."""

    patients: int = 0
    sessions: int = 0
    monitoring_entries: int = 0
    administrations: int = 0
    scores: int = 0
    checklist_completions: int = 0
    signatures: int = 0
    register_entries: int = 0
    heavy_patient_id: int = 0
    heavy_patient_sessions: int = 0
    light_patient_id: int = 0
    chart_session_id: int = 0
    signed_session_id: int = 0
    post_session_ids: list[int] = field(default_factory=list)
    nurse_username: str = NURSES[0]
    seconds: float = 0.0


def create_staff() -> tuple[list[int], list[int]]:
    """Nurses and clinicians through the real service (password policy, hashing, audit event)."""
    nurse_ids, clinician_ids = [], []
    for number, username in enumerate(NURSES, start=1):
        details = StaffDetails(f"Nurse Bench {number}", "RN", Role.NURSE)
        user = create_user(None, username, details, STAFF_PASSWORD, must_change_password=False)
        nurse_ids.append(user.id)
    for number, username in enumerate(CLINICIANS, start=1):
        details = StaffDetails(f"Doctor Bench {number}", "MD", Role.CLINICIAN)
        user = create_user(None, username, details, STAFF_PASSWORD, must_change_password=False)
        clinician_ids.append(user.id)
    db.session.commit()
    return nurse_ids, clinician_ids


def _insert(connection: sa.Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    # Batches bound the memory of one statement and keep psycopg's multi-row VALUES reasonable.
    for start in range(0, len(rows), BATCH):
        connection.execute(table.insert(), list(rows[start : start + BATCH]))


def _session_counts(rng: random.Random, patients: int, sessions: int, heavy: int) -> list[int]:
    """Sessions per patient: #1 the long history, #2 a short one, the rest spread at random."""
    counts = [0] * patients
    counts[0] = heavy
    counts[1] = LIGHT_PATIENT_SESSIONS
    # The in-progress sessions of today go to patients 3.. (one chair each), on top of history.
    for index in range(IN_PROGRESS_SESSIONS):
        counts[2 + index % (patients - 2)] += 1
    remaining = sessions - sum(counts)
    for _ in range(max(remaining, 0)):
        counts[rng.randrange(2, patients)] += 1
    return counts


def _vitals(rng: random.Random, minute: int) -> dict[str, Any]:
    # Ketamine raises blood pressure and heart rate during dosing: a little drift, some outliers.
    rise = 12 if 10 <= minute <= 50 else 0
    systolic = rng.randint(105, 140) + rise + (25 if rng.random() < 0.03 else 0)
    return {
        "systolic_bp": systolic,
        "diastolic_bp": min(systolic - 25, rng.randint(62, 88) + rise // 2),
        "heart_rate": rng.randint(58, 96) + rise // 2,
        "spo2": rng.choice((95, 96, 97, 97, 98, 98, 99, 100, 93)),
        "respiratory_rate": rng.randint(12, 18),
        "temperature_c": Decimal(f"36.{rng.randint(4, 9)}") if minute == 0 else None,
        "sedation_moaas": rng.choice((5, 5, 4, 4, 3)) if rise else 5,
        "dissociation": rng.choice(("none", "mild", "mild", "moderate")) if rise else "none",
        "nausea": "nausea" if rng.random() < 0.05 else "none",
        "pain_nrs": rng.randint(0, 6),
    }


def _phq9(rng: random.Random, severity: int) -> tuple[list[int], int, bool]:
    answers = [min(3, max(0, severity // 9 + rng.randint(-1, 1))) for _ in range(9)]
    answers[8] = 1 if rng.random() < 0.04 else 0  # item 9: the risk flag, now and then
    return answers, sum(answers), answers[8] > 0


def _patient_rows(rng: random.Random, patients: int, now: datetime) -> Iterator[dict[str, Any]]:
    for pid in range(1, patients + 1):
        yield {
            "id": pid,
            "mrn": f"MRN{pid:07d}",
            "family_name": FAMILY_NAMES[rng.randrange(len(FAMILY_NAMES))],
            "given_name": GIVEN_NAMES[rng.randrange(len(GIVEN_NAMES))],
            "date_of_birth": date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 55)),
            "sex": rng.choice(("female", "female", "male", "other", "unknown")),
            "allergies": rng.choice(("", "", "", "Penicillin", "Latex", "Sulfa drugs")),
            "indication": rng.choice(("depression", "depression", "fibromyalgia", "both")),
            "emergency_contact_name": "Contact Person",
            "emergency_contact_phone": "555-0100",
            "created_at": now - timedelta(days=1200),
            "created_by_id": None,
            "updated_at": now - timedelta(days=1200),
            "version": 1,
        }


def seed_clinic(
    patients: int = 2_000, sessions: int = 20_000, heavy_sessions: int = 1_000, seed: int = 6
) -> SeedResult:
    """Fill an empty, migrated database (inside an app context) and say where things are."""
    if patients < 2 + IN_PROGRESS_SESSIONS:
        raise ValueError(f"--patients must be at least {2 + IN_PROGRESS_SESSIONS}")
    heavy_sessions = min(heavy_sessions, sessions // 2)
    if sessions < heavy_sessions + LIGHT_PATIENT_SESSIONS + IN_PROGRESS_SESSIONS:
        raise ValueError("--sessions is too small for the heavy, light and in-progress patients")
    started = datetime.now(UTC)
    # The same clinic at every run, so that runs compare; nothing here is a secret.
    rng = random.Random(seed)  # noqa: S311
    nurse_ids, clinician_ids = create_staff()
    now = datetime.now(UTC).replace(microsecond=0)
    items = db.session.execute(sa.select(ChecklistItem.id, ChecklistItem.code)).all()
    result = SeedResult(
        heavy_patient_id=1, light_patient_id=2, heavy_patient_sessions=heavy_sessions
    )

    patient_rows = list(_patient_rows(rng, patients, now))
    patient_rows[0]["family_name"], patient_rows[0]["given_name"] = "Longhistory", "Pat"
    patient_rows[1]["family_name"], patient_rows[1]["given_name"] = "Shorthistory", "Sam"
    indications = {row["id"]: row["indication"] for row in patient_rows}

    session_rows: list[dict[str, Any]] = []
    admin_rows: list[dict[str, Any]] = []
    vitals_rows: list[dict[str, Any]] = []
    score_rows: list[dict[str, Any]] = []
    checklist_rows: list[dict[str, Any]] = []
    signature_rows: list[dict[str, Any]] = []
    counts = _session_counts(rng, patients, sessions, heavy_sessions)
    in_progress_left = {2 + i % (patients - 2) for i in range(IN_PROGRESS_SESSIONS)}
    sid = 0
    for pid, count in enumerate(counts, start=1):
        in_progress_today = pid - 1 in in_progress_left
        history = count - 1 if in_progress_today else count
        # A course of treatment: one session every few days, the newest last week.
        gap_days = 2 if history > 300 else 7
        for number in range(count):
            sid += 1
            today = in_progress_today and number == count - 1
            if today:
                start = now - timedelta(minutes=45)
            else:
                days_back = 7 + (history - 1 - number) * gap_days
                start = (now - timedelta(days=days_back)).replace(hour=14, minute=0, second=0)
            route, method, drug, dose, unit, rate, rate_unit = rng.choice(ROUTE_PLAN)
            nurse, clinician = rng.choice(nurse_ids), rng.choice(clinician_ids)
            session_rows.append(
                {
                    "id": sid,
                    "patient_id": pid,
                    "indication": indications[pid],
                    "route": route,
                    "attending_clinician_id": clinician,
                    "nurse_id": nurse,
                    "started_at": start,
                    "consent_on_file": True,
                    "fasting_confirmed": True,
                    "weight_kg": Decimal(f"{rng.randint(50, 110)}.{rng.randint(0, 9)}"),
                    "status": "in_progress" if today else "signed",
                    "discharged_at": None if today else start + timedelta(minutes=115),
                    "discharged_with": None if today else "Spouse",
                    "cancelled_at": None,
                    "cancel_reason": None,
                    "created_at": start,
                    "created_by_id": nurse,
                    "version": 1,
                }
            )
            dosing = start + timedelta(minutes=5)
            admin_rows.append(
                {
                    "session_id": sid,
                    "recorded_at": dosing + timedelta(minutes=1),
                    "recorded_by_id": clinician,
                    "drug": drug,
                    "route": route,
                    "method": method,
                    "dose_amount": Decimal(dose),
                    "dose_unit": unit,
                    "rate_amount": Decimal(rate) if rate else None,
                    "rate_unit": rate_unit,
                    "started_at": dosing,
                    "ended_at": dosing + timedelta(minutes=40) if rate else None,
                    "site": "Left antecubital" if route == "iv" else "",
                    "lot_number": f"LOT{rng.randint(1000, 9999)}",
                    "ordering_clinician_id": clinician,
                    "note": "",
                }
            )
            for minute, phase in VITALS_PLAN:
                moment = start + timedelta(minutes=minute)
                if moment > now:
                    break
                vitals_rows.append(
                    {
                        "session_id": sid,
                        "recorded_at": moment + timedelta(minutes=1),
                        "recorded_by_id": nurse,
                        "phase": phase,
                        "occurred_at": moment,
                        **_vitals(rng, minute),
                        "note": "",
                    }
                )
            severity = rng.randint(6, 24)
            for timing, moment, level in (
                ("before", start - timedelta(minutes=10), severity),
                ("after", start + timedelta(minutes=100), max(0, severity - rng.randint(0, 8))),
            ):
                if moment > now:
                    continue
                answers, total, risk = _phq9(rng, level)
                score_rows.append(
                    {
                        "session_id": sid,
                        "recorded_at": moment,
                        "recorded_by_id": nurse,
                        "instrument": "phq9",
                        "timing": timing,
                        "occurred_at": moment,
                        "answers": answers,
                        "total": total,
                        "risk_flag": risk,
                    }
                )
            if today:
                continue
            for item_id, code in items:
                checklist_rows.append(
                    {
                        "session_id": sid,
                        "recorded_at": start + timedelta(minutes=112),
                        "recorded_by_id": nurse,
                        "item_id": item_id,
                        "done": True,
                        "not_done_reason": None,
                        "detail": "Spouse" if code == "driver_confirmed" else None,
                        "note": "",
                    }
                )
            signature_rows.append(
                {
                    "session_id": sid,
                    "signer_id": clinician,
                    "signer_name": "Doctor Bench",
                    "signer_credentials": "MD",
                    "signed_at": start + timedelta(minutes=150),
                    "meaning": "Reviewed and signed",
                    # Not the real digest: the chart may say the record differs; it costs the same.
                    "content_digest": f"{sid:064x}",
                }
            )
            if result.signed_session_id == 0 and pid > 2:
                result.signed_session_id = sid

    result.post_session_ids = [row["id"] for row in session_rows if row["status"] == "in_progress"]
    # The chart row reads one of today's sessions; the posts go to the others, so the page
    # measured keeps its ten entries while the posts pile up elsewhere.
    result.chart_session_id = result.post_session_ids.pop(0)

    db.session.close()  # the staff are committed; the bulk load runs on one plain connection
    with db.engine.begin() as connection:
        _insert(connection, Patient.__table__, patient_rows)
        _insert(connection, InfusionSession.__table__, session_rows)
        _insert(connection, Administration.__table__, admin_rows)
        _insert(connection, MonitoringEntry.__table__, vitals_rows)
        _insert(connection, Score.__table__, score_rows)
        _insert(connection, ChecklistCompletion.__table__, checklist_rows)
        _insert(connection, Signature.__table__, signature_rows)
        result.register_entries = seed_register(connection, nurse_ids, now)
        if connection.dialect.name == "postgresql":
            _advance_sequences(connection)
    with db.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            # Settled as a database in service is: fresh statistics, and the vacuum that
            # autovacuum would otherwise start on 400,000 new rows in the middle of the measures.
            connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "VACUUM ANALYZE"
            )
        else:
            connection.exec_driver_sql("ANALYZE")
            connection.commit()

    result.patients = len(patient_rows)
    result.sessions = len(session_rows)
    result.administrations = len(admin_rows)
    result.monitoring_entries = len(vitals_rows)
    result.scores = len(score_rows)
    result.checklist_completions = len(checklist_rows)
    result.signatures = len(signature_rows)
    result.seconds = (datetime.now(UTC) - started).total_seconds()
    return result


SEEDED_TABLES = (
    Patient,
    StockLot,
    LedgerEntry,
    InfusionSession,
    Administration,
    MonitoringEntry,
    Score,
    ChecklistCompletion,
    Signature,
)


def _advance_sequences(connection: sa.Connection) -> None:
    for model in SEEDED_TABLES:
        table = model.__tablename__
        connection.exec_driver_sql(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 - our names
            f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
        )
