"""Scores taken during a session, by their instrument's definition (clinic/instruments/), and the
patient's suicide-risk flag.

A score is only the sum its instrument defines (or the total as entered); the answers are kept as
given, with the version of the instrument they answered. An instrument is taken when it is valid:
one asking about the last two weeks once per visit, before dosing; pain before and after; the
C-SSRS when a rule calls for it (follow_up.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import lazyload, load_only

from clinic.auth.models import Role, User
from clinic.clinic_time import format_local
from clinic.extensions import db
from clinic.instruments.definitions import (
    Definition,
    DefinitionError,
    Timing,
    score_answers,
    unknown_instrument,
)
from clinic.instruments.models import InstrumentVersion
from clinic.instruments.services import current_version, definition_for
from clinic.sessions.entries import ChartError, begin_entry, require_time_in_session, store_entry
from clinic.sessions.models import (
    Administration,
    InfusionSession,
    Instrument,
    Score,
    ScoreTiming,
)
from clinic.submissions import Saved

# The timings each rule admits; the first is the one a form without a choice records.
TIMINGS: dict[Timing, tuple[ScoreTiming, ...]] = {
    Timing.ONCE_BEFORE_DOSING: (ScoreTiming.BEFORE,),
    Timing.BEFORE_AND_AFTER: (ScoreTiming.BEFORE, ScoreTiming.AFTER),
    Timing.AT_PEAK: (ScoreTiming.PEAK,),
    Timing.WHEN_TRIGGERED: (ScoreTiming.TRIGGERED,),
}
NOTE_MAX = 4000


@dataclass(frozen=True)
class ScoreEntry:
    """What a person entered for one instrument: answers by item name, and when."""

    timing: ScoreTiming | None
    occurred_at: datetime
    answers: Mapping[str, int | None]
    assessment_note: str | None = None


def version_to_record(code: str, version_id: int | None) -> InstrumentVersion:
    """The version the form answered; the current one when the form names none. A version that
    does not exist (or is another instrument's) is refused next to the form's version field."""
    if version_id is None:
        version = current_version(code)
    else:
        version = db.session.get(InstrumentVersion, version_id)
    if version is None or version.code != code:
        raise ChartError("This instrument version does not exist: reload the form.", "version")
    return version


def first_dose_at(session_id: int) -> datetime | None:
    return db.session.scalar(
        sa.select(sa.func.min(Administration.started_at)).where(
            Administration.session_id == session_id, Administration.voided_at.is_(None)
        )
    )


def _check_moment(
    definition: Definition,
    infusion_session: InfusionSession,
    timing: ScoreTiming,
    occurred_at: datetime,
) -> None:
    if definition.timing != Timing.ONCE_BEFORE_DOSING:
        return
    earlier = db.session.scalar(
        sa.select(Score)
        .where(
            Score.session_id == infusion_session.id,
            Score.instrument == definition.code,
            Score.voided_at.is_(None),
        )
        .limit(1)
    )
    if earlier is not None:
        raise ChartError(
            f"A {definition.name} is already recorded in this visit "
            f"({format_local(earlier.occurred_at, '%H:%M')}); it is taken once per visit. "
            "Void that one first to record another.",
        )
    dosed_at = first_dose_at(infusion_session.id)
    if dosed_at is not None and occurred_at >= dosed_at:
        raise ChartError(
            f"The {definition.name} asks about the last weeks: it is taken before dosing "
            f"(first dose at {format_local(dosed_at, '%H:%M')}).",
            "occurred_at",
        )


def record_score(
    actor: User,
    session_id: int,
    code: str,
    entry: ScoreEntry,
    *,
    version_id: int | None = None,
    submission_key: str | None = None,
) -> Saved[Score]:
    """Store one instrument's answers, scored by the version answered: refused (nothing stored)
    with the field at fault when an answer, the moment or the version is wrong."""
    infusion_session, earlier = begin_entry(
        Score,
        session_id,
        submission_key,
        actor=actor,
        same_form=lambda e: e.instrument == code,
    )
    if earlier is not None:
        return earlier
    version = version_to_record(code, version_id)
    definition = version.spec
    allowed = TIMINGS[definition.timing]
    timing = entry.timing or allowed[0]
    if timing not in allowed:
        choices = " or ".join(t.label.lower() for t in allowed)
        raise ChartError(f"The {definition.name} is taken {choices}.", "timing")
    try:
        scored = score_answers(definition, entry.answers)
    except DefinitionError as error:
        raise ChartError(error.message, error.field) from error
    note = (entry.assessment_note or "").strip() or None
    if definition.assessment is not None:
        if actor.role != Role.CLINICIAN:
            raise ChartError(
                f"The {definition.name} is recorded by a clinician, with their assessment.",
                "assessment_note",
            )
        if definition.assessment.required and note is None:
            raise ChartError(f"Write the {definition.assessment.label.lower()}.", "assessment_note")
        if note is not None and len(note) > NOTE_MAX:
            raise ChartError(f"At most {NOTE_MAX} characters.", "assessment_note")
    elif note is not None:
        raise ChartError(f"The {definition.name} takes no assessment note.", "assessment_note")
    require_time_in_session(infusion_session, entry.occurred_at, "occurred_at")
    _check_moment(definition, infusion_session, timing, entry.occurred_at)
    score = Score(
        session_id=infusion_session.id,
        instrument=code,
        instrument_version_id=version.id,
        timing=timing,
        occurred_at=entry.occurred_at,
        answers=scored.answers,
        total=scored.total,
        risk_flag=scored.risk_flag,
        assessment_note=note,
        recorded_by_id=actor.id,
    )
    changes: dict[str, Any] = {
        "session_id": infusion_session.id,
        "instrument": code,
        "instrument_version_id": version.id,
        "timing": timing.value,
        "occurred_at": entry.occurred_at.isoformat(),
        "answers": scored.answers,
        "total": scored.total,
        "risk_flag": scored.risk_flag,
        "assessment_note": note,
    }
    if scored.band:
        changes["band"] = scored.band
    return store_entry(
        actor,
        score,
        patient_id=infusion_session.patient_id,
        action="score_recorded",
        changes=changes,
        submission_key=submission_key,
    )


def record_phq9(
    actor: User,
    session_id: int,
    *,
    timing: ScoreTiming,
    occurred_at: datetime,
    answers: Sequence[int],
    submission_key: str | None = None,
) -> Saved[Score]:
    """A PHQ-9 from its nine answers in order (item1 to item9)."""
    given = {f"item{number}": answer for number, answer in enumerate(answers, start=1)}
    return record_score(
        actor,
        session_id,
        Instrument.PHQ9,
        ScoreEntry(timing, occurred_at, given),
        submission_key=submission_key,
    )


def record_pain(
    actor: User,
    session_id: int,
    *,
    timing: ScoreTiming,
    occurred_at: datetime,
    score: int,
    submission_key: str | None = None,
) -> Saved[Score]:
    return record_score(
        actor,
        session_id,
        Instrument.PAIN_NRS,
        ScoreEntry(timing, occurred_at, {"score": score}),
        submission_key=submission_key,
    )


def score_definition(score: Score) -> Definition:
    """The definition the score was taken with (version 1 for scores from before 0015). A code no
    instrument has (only a change behind the app makes one) reads as an unknown instrument, so
    the chart still shows the record, and the signature check says it was changed."""
    try:
        return definition_for(score.instrument, score.instrument_version_id)
    except LookupError:
        return unknown_instrument(score.instrument)


def band_of(code: str, total: int, version_id: int | None = None) -> str | None:
    """The band of a total by its instrument's bands (for a summary that read only the total)."""
    definition = definition_for(code, version_id)
    return definition.band(total, [None] * len(definition.items)) if definition.bands else None


# Built once: the banner of every chart and history view reads it.
LATEST_RISK_SCORE = (
    sa.select(Score)
    .options(load_only(Score.session_id, Score.occurred_at), lazyload("*"))
    .join(InfusionSession, Score.session_id == InfusionSession.id)
    .where(
        InfusionSession.patient_id == sa.bindparam("patient_id"),
        Score.risk_flag.is_(True),
        Score.voided_at.is_(None),
    )
    .order_by(Score.occurred_at.desc(), Score.id.desc())
    .limit(1)
)


def latest_risk_score(patient_id: int) -> Score | None:
    """The newest non-voided score with the PHQ-9 item-9 suicide-risk flag, if any.

    Only what the banner shows (when, which session) is loaded: not the answers, nor the
    recorder and voider that Score would otherwise join in.
    """
    return db.session.scalar(LATEST_RISK_SCORE, {"patient_id": patient_id})
