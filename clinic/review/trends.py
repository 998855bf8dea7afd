"""PHQ-9 and pain scores across a patient's sessions, as coordinates for a server-drawn SVG.

One query reads only what is plotted (session date, instrument, timing, total, risk flag), so a
long history costs one narrow result set, not a thousand ORM rows with their answers. The chart is
drawn by a Jinja template from the numbers computed here; positions are plain floats (they are
pixels, not clinical values), the scores themselves stay ints.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import sqlalchemy as sa

from clinic.clinic_time import format_local
from clinic.extensions import db
from clinic.instruments.definitions import Definition
from clinic.instruments.services import current_version, current_versions
from clinic.sessions.models import InfusionSession, Instrument, Score, ScoreTiming

# Drawing area, in SVG user units (the viewBox); the CSS scales the whole chart to its column.
WIDTH = 720
# The right margin holds the PHQ-9 band names, outside the plot so no point hides them.
LEFT, RIGHT, TOP, BOTTOM = 40, 150, 12, 34
MAX_X_TICKS = 6
# About a year of weekly sessions.
TREND_SESSIONS = 52
MIN_SESSIONS_FOR_TREND = 2
BAND_CLASSES = ("band-minimal", "band-mild", "band-moderate", "band-modsevere", "band-severe")


@dataclass(frozen=True)
class PlottedScore:
    """One row of the trend query: exactly the columns the chart plots."""

    session_id: int
    started_at: datetime
    instrument: str
    timing: ScoreTiming
    total: int
    risk_flag: bool
    course_id: int | None = None


def trend_scores(patient_id: int, sessions: int = TREND_SESSIONS) -> list[PlottedScore]:
    """Valid PHQ-9 and pain totals of the patient's latest scored sessions, oldest first.

    One session more than is drawn is read, so that `build_trends` knows whether older ones were
    left out. A history of hundreds of sessions would draw an unreadable line and cost the page
    its speed; the sessions table below the chart still lists every session.
    """
    latest = (
        sa.select(InfusionSession.id)
        .where(
            InfusionSession.patient_id == patient_id,
            sa.exists().where(Score.session_id == InfusionSession.id, Score.voided_at.is_(None)),
        )
        .order_by(InfusionSession.started_at.desc(), InfusionSession.id.desc())
        .limit(sessions + 1)
    )
    rows = db.session.execute(
        sa.select(
            InfusionSession.id,
            InfusionSession.started_at,
            Score.instrument,
            Score.timing,
            Score.total,
            Score.risk_flag,
            InfusionSession.course_id,
        )
        .join(Score, Score.session_id == InfusionSession.id)
        .where(InfusionSession.id.in_(latest), Score.voided_at.is_(None))
        # Within a session, oldest score first, so a rescoring replaces the earlier value.
        .order_by(InfusionSession.started_at, InfusionSession.id, Score.occurred_at, Score.id)
    )
    return [PlottedScore(*row) for row in rows]


@dataclass(frozen=True)
class SessionScores:
    """The text alternative's row: one session's before/after values."""

    session_id: int
    started_at: datetime
    values: dict[tuple[str, ScoreTiming], PlottedScore]
    # The clinic-calendar date, formatted once per session: the table row, the points of both
    # charts and the axis all print it, and a zone conversion for each doubled build_trends.
    day: str

    def get(self, instrument: str, timing: ScoreTiming) -> PlottedScore | None:
        return self.values.get((instrument, timing))


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    value: int
    risk: bool
    label: str  # e.g. "2026-03-02 before: 14", the point's own <title>
    # Read from the entered totals against the course's first (RESPONSE_FRACTION below it) and
    # the instrument's remission threshold: shown, never used for anything else.
    response: bool = False
    remission: bool = False


@dataclass(frozen=True)
class Series:
    timing: ScoreTiming
    css_class: str
    points: list[Point]

    @property
    def path(self) -> str:
        return " ".join(
            f"{'M' if i == 0 else 'L'}{p.x:.1f},{p.y:.1f}" for i, p in enumerate(self.points)
        )


@dataclass(frozen=True)
class Band:
    y: float
    height: float
    css_class: str
    label: str


@dataclass(frozen=True)
class Tick:
    position: float
    label: str
    anchor: str = "middle"  # SVG text-anchor: the last date ends at the axis end, not past it


@dataclass(frozen=True)
class Chart:
    key: str  # element ids: "phq9", "pain"
    title: str
    description: str
    height: int
    plot_left: float
    plot_right: float
    plot_top: float
    plot_bottom: float
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    series: list[Series]
    bands: list[Band] = field(default_factory=list)
    # The course's first score and the response line (half of it), when the instrument has a
    # remission threshold: "First score 18 (2026-03-02); response at 9 or below; remission < 5".
    course_note: str = ""
    response_y: float | None = None

    @property
    def width(self) -> int:
        return WIDTH

    @property
    def point_count(self) -> int:
        return sum(len(s.points) for s in self.series)


@dataclass(frozen=True)
class Trends:
    sessions: list[SessionScores]
    phq9: Chart | None
    pain: Chart | None
    older_left_out: bool = False
    # Every other instrument with scores on two sessions (GAD-7, FIQR, CADSS, ...).
    others: list[Chart] = field(default_factory=list)


def build_trends(scores: Iterable[PlottedScore], sessions_drawn: int = TREND_SESSIONS) -> Trends:
    by_session: dict[int, SessionScores] = {}
    for score in scores:
        row = by_session.get(score.session_id)
        if row is None:
            row = by_session[score.session_id] = SessionScores(
                score.session_id,
                score.started_at,
                {},
                format_local(score.started_at, "%Y-%m-%d"),
            )
        key = (score.instrument, score.timing)
        earlier = row.values.get(key)
        if earlier is not None and earlier.risk_flag and not score.risk_flag:
            # The later score is drawn; a suicide-risk answer in the earlier one stays marked.
            score = replace(score, risk_flag=True)
        row.values[key] = score
    sessions = list(by_session.values())
    older_left_out = len(sessions) > sessions_drawn
    sessions = sessions[-sessions_drawn:]
    shown = {Instrument.PHQ9.value, Instrument.PAIN_NRS.value}
    codes = {code for row in sessions for code, _ in row.values} - shown
    others = [
        chart
        for version in current_versions()
        if version.code in codes and (chart := _chart(sessions, version.spec, 180)) is not None
    ]
    return Trends(
        sessions=sessions,
        phq9=_chart(sessions, _definition(Instrument.PHQ9), 200),
        pain=_chart(sessions, _definition(Instrument.PAIN_NRS), 150),
        older_left_out=older_left_out,
        others=others,
    )


def _definition(code: str) -> Definition:
    version = current_version(code)
    if version is None:
        raise LookupError(code)
    return version.spec


def _chart(sessions: Sequence[SessionScores], definition: Definition, height: int) -> Chart | None:
    instrument, top_value = definition.code, definition.maximum_total
    scored = [s for s in sessions if any(k[0] == instrument for k in s.values)]
    if len(scored) < MIN_SESSIONS_FOR_TREND:
        return None  # one point is not a trend: the page says so instead
    left, right = LEFT, WIDTH - RIGHT
    top, bottom = TOP, height - BOTTOM
    first = scored[0].started_at.timestamp()
    span = scored[-1].started_at.timestamp() - first

    def x_of(moment: datetime) -> float:
        if span <= 0:  # all on one instant: centre them rather than divide by zero
            return (left + right) / 2
        return left + (moment.timestamp() - first) / span * (right - left)

    def y_of(value: float) -> float:
        return bottom - value / top_value * (bottom - top)

    firsts = _course_firsts(scored, instrument)
    remission = definition.remission_below
    series = []
    for timing, css in TIMING_SERIES:
        points = []
        for s in scored:
            score = s.get(instrument, timing)
            if score is None:
                continue
            baseline = firsts.get(score.course_id) if timing == ScoreTiming.BEFORE else None
            response = baseline is not None and baseline > 0 and score.total * 2 <= baseline
            remitted = remission is not None and timing == ScoreTiming.BEFORE
            remitted = remitted and score.total < remission  # type: ignore[operator]
            points.append(
                Point(
                    x=x_of(s.started_at),
                    y=y_of(score.total),
                    value=score.total,
                    risk=score.risk_flag,
                    label=f"{s.day} {timing.value}: {score.total}"
                    + (" (item 9 above 0)" if score.risk_flag else "")
                    + (" (response)" if response else "")
                    + (" (remission)" if remitted else ""),
                    response=response,
                    remission=remitted,
                )
            )
        if points:
            series.append(Series(timing, css, points))
    course_note, response_y = "", None
    latest_course = scored[-1].get(instrument, ScoreTiming.BEFORE)
    if remission is not None and latest_course is not None:
        baseline = firsts.get(latest_course.course_id)
        if baseline is not None:
            response_y = y_of(baseline / 2)
            course_note = (
                f"First score of the course {baseline}; response at {baseline // 2} or below "
                f"(50 % below it); remission below {remission}."
            )

    bands: list[Band] = []
    if definition.bands:
        floors = [band.floor for band in definition.bands] + [top_value + 1]
        named = [(band.floor, band.label) for band in definition.bands]
        for (floor, name), ceiling, css in zip(named, floors[1:], BAND_CLASSES, strict=False):
            # A band covers its whole integers: 5-9 is drawn from 4.5 to 9.5, clipped to 0-27.
            low, high = max(floor - 0.5, 0), min(ceiling - 0.5, top_value)
            label = f"{name} {floor}-{ceiling - 1}"
            bands.append(Band(y_of(high), y_of(low) - y_of(high), css, label))
        y_values = sorted({band.floor for band in definition.bands} | {top_value})
    else:
        y_values = (
            [0, 2, 4, 6, 8, top_value]
            if top_value <= 10
            else [round(top_value * step / 4) for step in range(5)]
        )

    return Chart(
        key=instrument,
        title=f"{definition.name} across sessions",
        description=_description(definition, scored),
        height=height,
        plot_left=left,
        plot_right=right,
        plot_top=top,
        plot_bottom=bottom,
        y_ticks=[Tick(y_of(v), str(v)) for v in y_values],
        x_ticks=_x_ticks(scored, x_of),
        series=series,
        bands=bands,
        course_note=course_note,
        response_y=response_y,
    )


TIMING_SERIES = (
    (ScoreTiming.BEFORE, "series-before"),
    (ScoreTiming.AFTER, "series-after"),
    (ScoreTiming.PEAK, "series-after"),
)


def _course_firsts(scored: Sequence[SessionScores], instrument: str) -> dict[int | None, int]:
    """Each course's first total before dosing, among the sessions drawn (oldest first)."""
    firsts: dict[int | None, int] = {}
    for s in scored:
        score = s.get(instrument, ScoreTiming.BEFORE)
        if score is not None and score.course_id is not None:
            firsts.setdefault(score.course_id, score.total)
    return firsts


def _x_ticks(scored: Sequence[SessionScores], x_of: Callable[[datetime], float]) -> list[Tick]:
    """At most MAX_X_TICKS dates, spread over the sessions, always the first and the last."""
    count = len(scored)
    if count <= MAX_X_TICKS:
        chosen = list(range(count))
    else:
        step = (count - 1) / (MAX_X_TICKS - 1)
        chosen = sorted({round(i * step) for i in range(MAX_X_TICKS)})
    ticks: list[Tick] = []
    for index in chosen:
        position = x_of(scored[index].started_at)
        label = scored[index].day
        # Two sessions close together would print their dates over each other: keep the first.
        if ticks and (position - ticks[-1].position < 80 or ticks[-1].label == label):
            continue
        ticks.append(Tick(position, label))
    if len(ticks) > 1:
        ticks[-1] = Tick(ticks[-1].position, ticks[-1].label, "end")
    return ticks


def _description(definition: Definition, scored: Sequence[SessionScores]) -> str:
    instrument, top_value = definition.code, definition.maximum_total
    first, last = scored[0], scored[-1]
    text = (
        f"{definition.name} totals (0 to {top_value}) before and after each of {len(scored)} "
        f"sessions from {first.day} to {last.day}."
    )
    latest = last.get(instrument, ScoreTiming.BEFORE) or last.get(instrument, ScoreTiming.AFTER)
    if latest is not None:
        text += f" Latest: {latest.total} ({latest.timing.value})."
    if definition.bands:
        ceilings = [band.floor - 1 for band in definition.bands[1:]] + [top_value]
        text += " Shaded bands: " + ", ".join(
            f"{band.label} {band.floor}-{ceiling}"
            for band, ceiling in zip(definition.bands, ceilings, strict=True)
        )
        text += "."
    return text
