"""The chart's scores section (templates/sessions/_scores.html): each score read with the version
of its instrument it was taken with, and each instrument offered when it is due."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from clinic.extensions import db
from clinic.instruments.definitions import Definition, Timing
from clinic.instruments.services import current_versions
from clinic.sessions.models import Instrument, Score, ScoreTiming
from clinic.sessions.services.follow_up import cssrs_outstanding
from clinic.sessions.services.scores import score_definition

SCORES_OF_SESSION = (
    sa.select(Score)
    .where(Score.session_id == sa.bindparam("session_id"))
    .order_by(Score.occurred_at, Score.id)
)


@dataclass(frozen=True)
class ScoreRow:
    score: Score
    definition: Definition
    band: str | None
    flags: list[str]

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def maximum(self) -> int:
        return self.definition.maximum_total

    @property
    def timing_label(self) -> str:
        return self.score.timing.label

    @property
    def outside_its_moment(self) -> bool:
        """A two-week questionnaire taken after dosing (allowed before instruments were data):
        kept on the record, marked, and left out of trends."""
        return (
            self.definition.timing == Timing.ONCE_BEFORE_DOSING
            and self.score.timing != ScoreTiming.BEFORE
        )

    @property
    def answers_text(self) -> str:
        return ", ".join("-" if a is None else str(a) for a in self.score.answers)


def score_row(score: Score) -> ScoreRow:
    definition = score_definition(score)
    answers = list(score.answers)
    return ScoreRow(
        score,
        definition,
        definition.band(score.total, answers),
        [rule.label for rule in definition.flagged(answers)],
    )


def score_rows(session_id: int) -> list[ScoreRow]:
    scores = db.session.scalars(SCORES_OF_SESSION, {"session_id": session_id}).unique()
    return [score_row(score) for score in scores]


@dataclass(frozen=True)
class Offer:
    """An instrument on the chart: whether it is due now, done, required or past its moment."""

    code: str
    name: str
    state: str  # "due" | "done" | "required" | "later" | "past" | "available"
    note: str


@dataclass
class ScoresPart:
    rows: list[ScoreRow]
    offers: list[Offer] = field(default_factory=list)
    cssrs_reasons: list[str] = field(default_factory=list)

    @property
    def risk_flag(self) -> bool:
        return any(row.score.risk_flag and not row.score.is_voided for row in self.rows)


def scores_part(session_id: int, first_dose: datetime | None) -> ScoresPart:
    rows = score_rows(session_id)
    taken = {row.score.instrument for row in rows if not row.score.is_voided}
    outstanding = cssrs_outstanding(session_id)
    offers = []
    for version in current_versions():
        definition = version.spec
        if definition.code == Instrument.PAIN_NRS:
            continue  # charted on the chart itself
        offers.append(_offer(definition, taken, first_dose, outstanding))
    return ScoresPart(rows, offers, outstanding)


def _offer(
    definition: Definition, taken: set[str], first_dose: datetime | None, outstanding: list[str]
) -> Offer:
    code, name = definition.code, definition.name
    if definition.timing == Timing.ONCE_BEFORE_DOSING:
        if code in taken:
            return Offer(code, name, "done", "Taken this visit (void it to take it again).")
        if first_dose is not None:
            return Offer(code, name, "past", "Not offered: dosing has started.")
        return Offer(code, name, "due", "Due before dosing.")
    if definition.timing == Timing.WHEN_TRIGGERED:
        if code == Instrument.CSSRS and outstanding:
            return Offer(code, name, "required", "Required before discharge.")
        if code in taken:
            return Offer(code, name, "done", "Recorded.")
        return Offer(code, name, "available", "When clinically indicated.")
    if definition.timing == Timing.AT_PEAK:
        if first_dose is None:
            return Offer(code, name, "later", "At the dissociation peak, after dosing.")
        return Offer(code, name, "due", "At the dissociation peak.")
    return Offer(code, name, "available", definition.timing.label.capitalize() + ".")
