"""Vital signs: what is physiologically plausible, what is abnormal, and when the next set is due.

Plausibility limits are fixed (REFERENCE.md): a value outside them is a typing error, refused.
Abnormal thresholds are clinic policy, kept in configuration (`VITALS_FLAGS`): they flag a value
on the flowsheet, never block it. The schedule (`VITALS_SCHEDULE`) is a clock, not a dose:
nothing here reads or derives anything about what was given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from clinic.sessions.models import (
    Administration,
    AdministrationPurpose,
    InfusionSession,
    MonitoringEntry,
)

# field -> (lowest, highest) accepted, inclusive, in the unit the form asks for.
PLAUSIBLE: dict[str, tuple[Decimal, Decimal]] = {
    "systolic_bp": (Decimal(40), Decimal(300)),
    "diastolic_bp": (Decimal(20), Decimal(200)),
    "heart_rate": (Decimal(20), Decimal(250)),
    "spo2": (Decimal(50), Decimal(100)),
    "respiratory_rate": (Decimal(2), Decimal(60)),
    "temperature_c": (Decimal(30), Decimal(45)),
    "sedation_moaas": (Decimal(0), Decimal(5)),
    "pain_nrs": (Decimal(0), Decimal(10)),
}


def implausibility(field: str, value: int | Decimal | None) -> str | None:
    """The message for a value outside physiological plausibility, or None."""
    if value is None or field not in PLAUSIBLE:
        return None
    low, high = PLAUSIBLE[field]
    if not low <= Decimal(value) <= high:
        return f"Not plausible: enter a value from {low} to {high}."
    return None


def _threshold_hit(value: Decimal, rule: Mapping[str, Any]) -> str | None:
    """'low' or 'high' when the value crosses a configured threshold."""
    if "below" in rule and value < Decimal(str(rule["below"])):
        return "low"
    if "at_or_below" in rule and value <= Decimal(str(rule["at_or_below"])):
        return "low"
    if "above" in rule and value > Decimal(str(rule["above"])):
        return "high"
    if "at_or_above" in rule and value >= Decimal(str(rule["at_or_above"])):
        return "high"
    return None


def abnormal_flags(entry: MonitoringEntry, thresholds: Mapping[str, Mapping[str, Any]]) -> dict:
    """{field: 'low' | 'high'} for each value of the entry past its configured threshold."""
    flags: dict[str, str] = {}
    for field, rule in thresholds.items():
        value = getattr(entry, field, None)
        if value is None:
            continue
        hit = _threshold_hit(Decimal(value), rule)
        if hit:
            flags[field] = hit
    return flags


def first_dosing_time(administrations: Iterable[Administration]) -> datetime | None:
    """Start of the first treatment administration still on the record: T+0 of the flowsheet.
    A rescue medicine (ondansetron before the ketamine, say) never moves it."""
    starts = [
        a.started_at
        for a in administrations
        if not a.is_voided and a.purpose == AdministrationPurpose.TREATMENT
    ]
    return min(starts) if starts else None


def minutes_since(start: datetime | None, moment: datetime) -> int | None:
    """Whole minutes from T+0 (negative before dosing, e.g. a baseline)."""
    if start is None:
        return None
    return int((moment - start).total_seconds() // 60)


@dataclass(frozen=True)
class VitalsDue:
    due_at: datetime | None  # None: due before the first dose, whenever that is
    overdue: bool
    label: str


def next_vitals_due(
    infusion_session: InfusionSession,
    entries: Iterable[MonitoringEntry],
    administrations: Iterable[Administration],
    schedule: Mapping[str, Any],
    now: datetime,
) -> VitalsDue | None:
    """When the next set of vitals is due, or None once the patient has left or it is signed."""
    ended = infusion_session.discharged_at or infusion_session.cancelled_at
    if infusion_session.is_signed or ended:
        return None
    interval = timedelta(minutes=int(schedule["interval_minutes"]))
    taken = [e.occurred_at for e in entries if not e.is_voided]
    dosing_from = first_dosing_time(administrations)
    if not taken and schedule["baseline_before_dosing"]:
        # A baseline belongs before the first dose; once dosing has begun without one it is late.
        return VitalsDue(
            due_at=dosing_from,
            overdue=dosing_from is not None and dosing_from <= now,
            label="Baseline vitals before dosing",
        )
    last = max(taken) if taken else infusion_session.started_at
    due_at = last + interval
    return VitalsDue(due_at=due_at, overdue=due_at < now, label="Next vitals")
