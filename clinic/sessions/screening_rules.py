"""The pre-session screening's go, warn or no-go, read by the rules in configuration
(`SCREENING_RULES`, defaults from REFERENCE.md "Screening defaults") from the screening as
recorded and the baseline vitals (the latest blood pressure before the first treatment). Each
rule that applies gives its outcome and its reason in words; the worst outcome stands.

Nothing here is about a dose: it reads answers and vital signs, and decides whether the session
may go ahead without a clinician's override.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from clinic.sessions.models import MonitoringEntry, Phase, Screening


class ScreeningOutcome(enum.StrEnum):
    GO = "go"
    WARN = "warn"
    NO_GO = "no_go"

    @property
    def label(self) -> str:
        return {"go": "Go", "warn": "Go, with warnings", "no_go": "No-go"}[self.value]


_RANK = {ScreeningOutcome.GO: 0, ScreeningOutcome.WARN: 1, ScreeningOutcome.NO_GO: 2}


@dataclass(frozen=True)
class ScreeningResult:
    outcome: ScreeningOutcome
    reasons: list[tuple[ScreeningOutcome, str]]
    baseline: MonitoringEntry | None

    @property
    def no_go(self) -> bool:
        return self.outcome == ScreeningOutcome.NO_GO


def baseline_entry(
    entries: Iterable[MonitoringEntry], t_zero: datetime | None
) -> MonitoringEntry | None:
    """The latest blood pressure charted as baseline, or before the first treatment (any, while
    none was given)."""
    found = [
        e
        for e in entries
        if not e.is_voided
        and e.systolic_bp is not None
        and (e.phase == Phase.BASELINE or t_zero is None or e.occurred_at <= t_zero)
    ]
    return max(found, key=lambda e: (e.occurred_at, e.id)) if found else None


def _hours(since: datetime | None, at: datetime) -> Decimal | None:
    if since is None:
        return None
    return Decimal((at - since).total_seconds()) / Decimal(3600)


def screening_facts(screening: Screening, baseline: MonitoringEntry | None) -> dict[str, Any]:
    return {
        "baseline_systolic_bp": baseline.systolic_bp if baseline else None,
        "baseline_diastolic_bp": baseline.diastolic_bp if baseline else None,
        "no_baseline_bp": baseline is None,
        "pregnancy": screening.pregnancy.value,
        "hours_since_solid_food": _hours(screening.last_solid_food_at, screening.occurred_at),
        "hours_since_clear_fluid": _hours(screening.last_clear_fluid_at, screening.occurred_at),
        "concomitant_medicines": bool(screening.concomitant_medicines),
        "alcohol_or_drugs": screening.alcohol_or_drugs,
        "new_problems": bool(screening.new_problems.strip()),
        "suicidality_positive": screening.suicidality_positive,
        "no_escort": not screening.escort_present,
    }


def _applies(rule: Mapping[str, Any], value: Any) -> bool:
    if value is None:
        return False
    if "equals" in rule:
        return str(value) == str(rule["equals"])
    if "is_true" in rule:
        return bool(value) is bool(rule["is_true"])
    if "at_or_above" in rule:
        return Decimal(value) >= Decimal(str(rule["at_or_above"]))
    if "below" in rule:
        return Decimal(value) < Decimal(str(rule["below"]))
    return False


def evaluate_screening(
    screening: Screening,
    entries: Sequence[MonitoringEntry],
    t_zero: datetime | None,
    rules: Iterable[Mapping[str, Any]],
) -> ScreeningResult:
    baseline = baseline_entry(entries, t_zero)
    facts = screening_facts(screening, baseline)
    reasons = []
    for rule in rules:
        if _applies(rule, facts.get(str(rule["fact"]))):
            reasons.append((ScreeningOutcome(rule["outcome"]), str(rule["reason"])))
    worst = max((outcome for outcome, _ in reasons), key=_RANK.__getitem__, default=None)
    return ScreeningResult(worst or ScreeningOutcome.GO, reasons, baseline)
