"""A patient's sessions as a timeline for the patient page: one page of plain rows.

The page must cost the same number of queries for a patient with five sessions and one with a
thousand (DESIGN.md §7), so a page is read in a fixed set of statements: the page of sessions
(with its signature), then each kind of entry for the sessions of that page by one IN list of at
most a page's ids. Entries are read as columns, not ORM objects, and turned into frozen
dataclasses: the view can then commit its audit event and render without any lazy load.
Monitoring entries are read as per-session aggregates (each vital's lowest and highest value),
which decide the flags exactly as every entry would; see SessionVitals.

Administrations are listed exactly as entered, one line each. Nothing here adds doses together,
derives a rate or a volume: the only arithmetic is the length of an administration from its own
start and end times, which is a clock reading, not a dose.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from clinic.extensions import db
from clinic.pagination import PageNumbers
from clinic.patients.models import Indication
from clinic.review.history_filters import HistoryFilters, history_statement, matching
from clinic.sessions.course_place import CoursePlace, course_places
from clinic.sessions.models import (
    Administration,
    ChecklistCompletion,
    ChecklistItem,
    Dissociation,
    InfusionSession,
    Instrument,
    Method,
    MonitoringEntry,
    Nausea,
    Route,
    Score,
    ScoreTiming,
    SessionStatus,
)
from clinic.sessions.services.scores import band_of
from clinic.sessions.vitals import abnormal_flags

# What the flags column shows, in flowsheet order; MOAA/S is an adverse finding instead.
FLAG_LABELS: dict[str, tuple[str, str]] = {
    "systolic_bp": ("SBP", "mmHg"),
    "diastolic_bp": ("DBP", "mmHg"),
    "heart_rate": ("HR", "/min"),
    "spo2": ("SpO2", "%"),
    "respiratory_rate": ("RR", "/min"),
    "temperature_c": ("Temp", "°C"),
}
# REFERENCE.md defaults, used only when a clinic's configuration leaves these two out: they
# decide adverse findings, which must not silently disappear with a trimmed config.
DEFAULT_ADVERSE_RULES: dict[str, dict[str, str]] = {
    "spo2": {"below": "94"},
    "sedation_moaas": {"at_or_below": "2"},
}


# --- rows -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdministrationLine:
    """One administration exactly as entered."""

    drug: str
    dose_amount: Decimal
    dose_unit: str
    method: Method
    started_at: datetime
    ended_at: datetime | None
    voided: bool

    @property
    def duration_minutes(self) -> int | None:
        """Whole minutes between the entered start and end; None without an end time."""
        if self.ended_at is None:
            return None
        return int((self.ended_at - self.started_at).total_seconds() // 60)


@dataclass(frozen=True)
class VitalFlag:
    """The most extreme value of one vital past its threshold in one direction."""

    field: str
    label: str
    value: int | Decimal
    unit: str
    direction: str  # "low" | "high"


@dataclass(frozen=True)
class ScoreValue:
    total: int
    risk: bool = False
    band: str | None = None  # PHQ-9 only


@dataclass(frozen=True)
class SessionRow:
    id: int
    started_at: datetime
    indication: Indication
    route: Route
    status: SessionStatus
    cancel_reason: str | None
    administrations: list[AdministrationLine] = field(default_factory=list)
    flags: list[VitalFlag] = field(default_factory=list)
    adverse: list[str] = field(default_factory=list)
    phq9_before: ScoreValue | None = None
    phq9_after: ScoreValue | None = None
    pain_before: ScoreValue | None = None
    pain_after: ScoreValue | None = None
    checklist_missing: list[str] = field(default_factory=list)
    checklist_not_done: list[str] = field(default_factory=list)
    signer: str | None = None
    signed_at: datetime | None = None
    course: CoursePlace | None = None


@dataclass(frozen=True)
class HistoryPage(PageNumbers):
    rows: list[SessionRow] = field(default_factory=list)


# The statements of a page's entries are built once: only the page's ids change between
# requests, and building a select (coercing its columns, aggregates and IN list) cost nearly
# as much as running it. The ids are one expanding parameter, sent as a list.
PAGE_IDS = sa.bindparam("page_ids", expanding=True)
ADMINISTRATIONS = (
    sa.select(
        Administration.session_id,
        Administration.drug,
        Administration.dose_amount,
        Administration.dose_unit,
        Administration.method,
        Administration.started_at,
        Administration.ended_at,
        Administration.voided_at,
    )
    .where(Administration.session_id.in_(PAGE_IDS))
    .order_by(Administration.started_at, Administration.id)
)
# Per session and MOAA/S value, the lowest and highest of each vital and whether any entry
# recorded vomiting or severe dissociation: aggregates instead of every entry (see SessionVitals).
# Grouped by MOAA/S too (a handful of values per session), so the set of MOAA/S values recorded
# comes along on both databases without a dialect's string aggregate.
VITALS = (
    sa.select(
        MonitoringEntry.session_id,
        MonitoringEntry.sedation_moaas,
        *(sa.func.min(getattr(MonitoringEntry, name)) for name in FLAG_LABELS),
        *(sa.func.max(getattr(MonitoringEntry, name)) for name in FLAG_LABELS),
        sa.func.max(sa.case((MonitoringEntry.nausea == Nausea.VOMITED, 1), else_=0)),
        sa.func.max(sa.case((MonitoringEntry.dissociation == Dissociation.SEVERE, 1), else_=0)),
    )
    .where(MonitoringEntry.session_id.in_(PAGE_IDS), MonitoringEntry.voided_at.is_(None))
    .group_by(MonitoringEntry.session_id, MonitoringEntry.sedation_moaas)
)
SCORES = (
    sa.select(
        Score.session_id,
        Score.instrument,
        Score.instrument_version_id,
        Score.timing,
        Score.total,
        Score.risk_flag,
    )
    .where(Score.session_id.in_(PAGE_IDS), Score.voided_at.is_(None))
    # Oldest first, so a rescoring of the same timing replaces the earlier one below.
    .order_by(Score.occurred_at, Score.id)
)
COMPLETIONS = (
    sa.select(
        ChecklistCompletion.session_id,
        ChecklistCompletion.item_id,
        ChecklistCompletion.done,
    )
    .where(ChecklistCompletion.session_id.in_(PAGE_IDS), ChecklistCompletion.voided_at.is_(None))
    .order_by(ChecklistCompletion.id)
)
CHECKLIST_ITEMS = (
    sa.select(ChecklistItem.id, ChecklistItem.label, ChecklistItem.required)
    .where(ChecklistItem.active.is_(True))
    .order_by(ChecklistItem.position, ChecklistItem.id)
)


def load_history_page(
    patient_id: int,
    filters: HistoryFilters,
    thresholds: Mapping[str, Mapping[str, Any]],
    page: int,
    per_page: int,
) -> HistoryPage:
    """One page of the timeline as plain rows, in a fixed number of queries."""
    page, per_page = max(page, 1), max(per_page, 1)
    sessions = db.session.execute(
        history_statement(patient_id, filters).limit(per_page).offset((page - 1) * per_page)
    ).all()
    total = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(InfusionSession)
        .where(*matching(patient_id, filters))
    )
    ids = [s.id for s in sessions]
    if not ids:
        return HistoryPage(page, per_page, total or 0, [])

    page_ids = {"page_ids": ids}
    administrations = _by_session(db.session.execute(ADMINISTRATIONS, page_ids))
    vitals = _session_vitals(db.session.execute(VITALS, page_ids))
    scores = _by_session(db.session.execute(SCORES, page_ids))
    completions = _by_session(db.session.execute(COMPLETIONS, page_ids))
    items = db.session.execute(CHECKLIST_ITEMS).all()
    places = course_places(ids)

    rules = {**DEFAULT_ADVERSE_RULES, **thresholds}
    rows = [
        _row(
            s,
            administrations.get(s.id, []),
            vitals.get(s.id, NO_VITALS),
            scores.get(s.id, []),
            completions.get(s.id, []),
            items,
            rules,
            places.get(s.id),
        )
        for s in sessions
    ]
    return HistoryPage(page, per_page, total or 0, rows)


def _by_session(result: Iterable[Any]) -> dict[int, list[Any]]:
    grouped: dict[int, list[Any]] = {}
    for row in result:
        grouped.setdefault(row.session_id, []).append(row)
    return grouped


# --- vitals ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    """Vital values in the shape of a monitoring entry, so `abnormal_flags` can judge them."""

    systolic_bp: int | None = None
    diastolic_bp: int | None = None
    heart_rate: int | None = None
    spo2: int | None = None
    respiratory_rate: int | None = None
    temperature_c: Decimal | None = None
    sedation_moaas: int | None = None


@dataclass(frozen=True)
class SessionVitals:
    """What the flags and adverse-findings columns need of a session's valid monitoring entries.

    A threshold flags every value below it (or above it; a value low on a two-sided rule is
    never also high), so the worst flagged value of a vital is its lowest (or highest) value
    whenever any value is flagged: the lowest and the highest decide the flags exactly as every
    entry would. MOAA/S is kept as the set of values recorded, since "deep sedation" is the least
    flagged one whatever the configured rule. Should `abnormal_flags` ever judge by something
    other than thresholds, this no longer holds: tests/test_patient_history_flags.py compares
    the history with judging every entry.
    """

    lowest: Reading = field(default_factory=Reading)
    highest: Reading = field(default_factory=Reading)
    sedation_values: frozenset[int] = frozenset()
    vomited: bool = False
    severe_dissociation: bool = False


NO_VITALS = SessionVitals()


def _session_vitals(result: Iterable[Any]) -> dict[int, SessionVitals]:
    """Per session, its vitals summary from the rows of VITALS (one per MOAA/S value)."""
    groups: dict[int, list[tuple[Any, ...]]] = {}
    for row in result:
        groups.setdefault(row[0], []).append(tuple(row))
    first_low, first_high = 2, 2 + len(FLAG_LABELS)
    summaries: dict[int, SessionVitals] = {}
    for session_id, rows in groups.items():
        columns = list(zip(*rows, strict=True))
        lows = columns[first_low:first_high]
        highs = columns[first_high : first_high + len(FLAG_LABELS)]
        summaries[session_id] = SessionVitals(
            lowest=Reading(
                **{
                    name: min((v for v in values if v is not None), default=None)
                    for name, values in zip(FLAG_LABELS, lows, strict=True)
                }
            ),
            highest=Reading(
                **{
                    name: max((v for v in values if v is not None), default=None)
                    for name, values in zip(FLAG_LABELS, highs, strict=True)
                }
            ),
            sedation_values=frozenset(v for v in columns[1] if v is not None),
            vomited=any(columns[-2]),
            severe_dissociation=any(columns[-1]),
        )
    return summaries


def _row(
    infusion_session: Any,
    administrations: Sequence[Any],
    vitals: SessionVitals,
    scores: Sequence[Any],
    completions: Sequence[Any],
    items: Sequence[Any],
    rules: Mapping[str, Mapping[str, Any]],
    course: CoursePlace | None = None,
) -> SessionRow:
    latest: dict[tuple[Instrument, ScoreTiming], ScoreValue] = {}
    for score in scores:
        band = (
            band_of(score.instrument, score.total, score.instrument_version_id)
            if score.instrument == Instrument.PHQ9
            else None
        )
        key = (score.instrument, score.timing)
        # The latest score is shown, but an item-9 answer above 0 in any score of the session
        # stays flagged: a rescoring must not hide a suicide-risk answer.
        earlier_risk = key in latest and latest[key].risk
        latest[key] = ScoreValue(score.total, bool(score.risk_flag) or earlier_risk, band)
    # A checklist item's state is its latest completion still on the record (as on the chart).
    current: dict[int, bool] = {c.item_id: c.done for c in completions}
    signed = infusion_session.signature_id is not None
    return SessionRow(
        id=infusion_session.id,
        started_at=infusion_session.started_at,
        indication=infusion_session.indication,
        route=infusion_session.route,
        status=infusion_session.status,
        cancel_reason=infusion_session.cancel_reason,
        administrations=[
            AdministrationLine(
                drug=a.drug,
                dose_amount=a.dose_amount,
                dose_unit=a.dose_unit,
                method=a.method,
                started_at=a.started_at,
                ended_at=a.ended_at,
                voided=a.voided_at is not None,
            )
            for a in administrations
        ],
        flags=worst_flags(vitals, rules),
        adverse=adverse_findings(vitals, rules),
        phq9_before=latest.get((Instrument.PHQ9, ScoreTiming.BEFORE)),
        phq9_after=latest.get((Instrument.PHQ9, ScoreTiming.AFTER)),
        pain_before=latest.get((Instrument.PAIN_NRS, ScoreTiming.BEFORE)),
        pain_after=latest.get((Instrument.PAIN_NRS, ScoreTiming.AFTER)),
        checklist_missing=[i.label for i in items if i.required and i.id not in current],
        checklist_not_done=[i.label for i in items if current.get(i.id) is False],
        signer=(
            f"{infusion_session.signer_name}, {infusion_session.signer_credentials}".rstrip(", ")
            if signed
            else None
        ),
        signed_at=infusion_session.signed_at if signed else None,
        course=course,
    )


def worst_flags(
    vitals: SessionVitals, thresholds: Mapping[str, Mapping[str, Any]]
) -> list[VitalFlag]:
    """Per vital and direction, the most extreme flagged value of the session.

    The flags themselves come from `abnormal_flags`, the flowsheet's own rule, so the history
    and the chart can never disagree about what is abnormal.
    """
    rules = {name: rule for name, rule in thresholds.items() if name in FLAG_LABELS}
    low = abnormal_flags(vitals.lowest, rules)
    high = abnormal_flags(vitals.highest, rules)
    flags: list[VitalFlag] = []
    for name, (label, unit) in FLAG_LABELS.items():
        if low.get(name) == "low":
            flags.append(VitalFlag(name, label, getattr(vitals.lowest, name), unit, "low"))
        if high.get(name) == "high":
            flags.append(VitalFlag(name, label, getattr(vitals.highest, name), unit, "high"))
    return flags


def adverse_findings(
    vitals: SessionVitals, thresholds: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """Vomiting, severe dissociation, deep sedation (MOAA/S) and desaturation, in words."""
    findings: list[str] = []
    if vitals.vomited:
        findings.append("Vomited")
    if vitals.severe_dissociation:
        findings.append("Severe dissociation")
    sedation = {"sedation_moaas": thresholds["sedation_moaas"]}
    deep = [
        value
        for value in vitals.sedation_values
        if abnormal_flags(Reading(sedation_moaas=value), sedation)
    ]
    if deep:
        findings.append(f"MOAA/S {min(deep)}")
    spo2 = {"spo2": thresholds["spo2"]}
    if abnormal_flags(vitals.lowest, spo2).get("spo2") == "low":
        findings.append(f"SpO2 {vitals.lowest.spo2}%")
    return findings
