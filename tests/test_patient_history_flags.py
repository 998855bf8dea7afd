"""The history's flags and adverse findings, read as per-session aggregates, are exactly what
judging every monitoring entry one by one gives, whatever the thresholds.

The page reads each vital's lowest and highest value per session instead of every entry. That is
exact only because a threshold flags everything beyond it; these tests check it against the
entry-by-entry rule on random sessions full of boundary values, gaps and voided entries, with
the clinic's thresholds and with odd ones (two-sided, overlapping, a MOAA/S rule upwards).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from clinic.auth.models import Role
from clinic.extensions import db
from clinic.review import history
from clinic.review.history_filters import HistoryFilters
from clinic.sessions.models import Dissociation, MonitoringEntry, Nausea, Phase
from clinic.sessions.vitals import abnormal_flags
from tests.factories import insert_session, make_patient

START = datetime(2025, 6, 2, 14, 0, tzinfo=UTC)
# Values on, just inside and just past the clinic's thresholds, and the plausible extremes.
CHOICES: dict[str, Sequence[Any]] = {
    "systolic_bp": (40, 89, 90, 91, 120, 159, 160, 161, 300),
    "diastolic_bp": (20, 49, 50, 51, 80, 99, 100, 101, 200),
    "heart_rate": (20, 49, 50, 51, 80, 110, 111, 250),
    "spo2": (50, 90, 93, 94, 95, 100),
    "respiratory_rate": (2, 9, 10, 11, 16, 24, 25, 60),
    "temperature_c": tuple(
        Decimal(v) for v in ("30.0", "35.4", "35.5", "35.6", "36.8", "37.9", "38.0", "45.0")
    ),
    "sedation_moaas": (0, 1, 2, 3, 4, 5),
}
ODD_FLAGS = {
    "systolic_bp": {"at_or_below": "90", "above": "160"},
    "diastolic_bp": {"at_or_above": "100"},
    # Overlapping: every value is flagged, the low side taking precedence as on the flowsheet.
    "heart_rate": {"below": "100", "above": "50"},
    "spo2": {"below": "94", "at_or_above": "100"},
    "respiratory_rate": {"above": "24"},
    "temperature_c": {"below": "35.5", "at_or_above": "37.9"},
    # Upwards: the least flagged MOAA/S is then neither the lowest nor the highest value.
    "sedation_moaas": {"above": "3"},
}


def entry_by_entry_flags(
    entries: Sequence[MonitoringEntry], thresholds: Mapping[str, Mapping[str, Any]]
) -> list[tuple[str, str, str]]:
    """The worst flagged value per vital and direction, judging every entry."""
    rules = {name: rule for name, rule in thresholds.items() if name in history.FLAG_LABELS}
    worst: dict[tuple[str, str], Any] = {}
    for entry in entries:
        for name, direction in abnormal_flags(entry, rules).items():
            value = getattr(entry, name)
            key = (name, direction)
            if key not in worst:
                worst[key] = value
            else:
                worst[key] = (max if direction == "high" else min)(worst[key], value)
    return [
        (name, str(worst[(name, direction)]), direction)
        for name in history.FLAG_LABELS
        for direction in ("low", "high")
        if (name, direction) in worst
    ]


def entry_by_entry_adverse(
    entries: Sequence[MonitoringEntry], thresholds: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    findings = []
    if any(e.nausea == Nausea.VOMITED for e in entries):
        findings.append("Vomited")
    if any(e.dissociation == Dissociation.SEVERE for e in entries):
        findings.append("Severe dissociation")
    sedation = {"sedation_moaas": thresholds["sedation_moaas"]}
    deep = [e.sedation_moaas for e in entries if abnormal_flags(e, sedation)]
    if deep:
        findings.append(f"MOAA/S {min(deep)}")
    spo2 = {"spo2": thresholds["spo2"]}
    low = [e.spo2 for e in entries if abnormal_flags(e, spo2).get("spo2") == "low"]
    if low:
        findings.append(f"SpO2 {min(low)}%")
    return findings


def seed_random_sessions(make_user: Any, seed: int, count: int) -> tuple[int, list[int]]:
    rng = random.Random(seed)
    nurse = make_user(Role.NURSE)
    patient = make_patient()
    ids = []
    for n in range(count):
        session = insert_session(patient, nurse, started_at=START + timedelta(days=n))
        ids.append(session.id)
        for minute in range(rng.choice((0, 1, 1, 2, 5, 9))):
            values = {
                name: rng.choice(choices) if rng.random() < 0.7 else None
                for name, choices in CHOICES.items()
            }
            entry = MonitoringEntry(
                session_id=session.id,
                recorded_by_id=nurse.id,
                phase=Phase.DURING,
                occurred_at=session.started_at + timedelta(minutes=minute),
                nausea=rng.choice((None, Nausea.NONE, Nausea.VOMITED, Nausea.NONE)),
                dissociation=rng.choice((None, Dissociation.SEVERE, Dissociation.NONE)),
                # A voided entry counts for nothing, however extreme.
                voided_at=START if rng.random() < 0.15 else None,
                void_reason="wrong patient",
                **values,
            )
            db.session.add(entry)
    db.session.commit()
    return patient.id, ids


@pytest.mark.parametrize(
    ("app_config", "seed"),
    [({}, 1), ({}, 2), ({"VITALS_FLAGS": ODD_FLAGS}, 3), ({"VITALS_FLAGS": ODD_FLAGS}, 4)],
)
def test_history_flags_and_adverse_findings_equal_judging_every_entry(
    app: Any, make_user: Any, app_config: dict[str, Any], seed: int
) -> None:
    patient_id, ids = seed_random_sessions(make_user, seed, 60)
    thresholds = {**history.DEFAULT_ADVERSE_RULES, **app.config["VITALS_FLAGS"]}

    page = history.load_history_page(
        patient_id, HistoryFilters(), app.config["VITALS_FLAGS"], page=1, per_page=100
    )

    entries: dict[int, list[MonitoringEntry]] = {session_id: [] for session_id in ids}
    for entry in db.session.scalars(
        sa.select(MonitoringEntry).where(
            MonitoringEntry.session_id.in_(ids), MonitoringEntry.voided_at.is_(None)
        )
    ):
        entries[entry.session_id].append(entry)
    assert len(page.rows) == len(ids)
    flagged = adverse = 0
    for row in page.rows:
        shown = [(flag.field, str(flag.value), flag.direction) for flag in row.flags]
        assert shown == entry_by_entry_flags(entries[row.id], thresholds), row.id
        assert row.adverse == entry_by_entry_adverse(entries[row.id], thresholds), row.id
        flagged += bool(row.flags)
        adverse += any(finding.startswith("MOAA/S") for finding in row.adverse)
    # The random sessions did exercise the rules, not only empty ones.
    assert flagged > 10 and adverse > 5
