"""Scores taken during a session (PHQ-9, pain) and the patient's suicide-risk flag.

A score is only the sum its instrument defines; the answers are kept as given."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import lazyload, load_only

from clinic.auth.models import User
from clinic.extensions import db
from clinic.sessions.entries import ChartError, begin_entry, require_time_in_session, store_entry
from clinic.sessions.models import (
    InfusionSession,
    Instrument,
    Score,
    ScoreTiming,
)
from clinic.sessions.scoring import check_pain_score, phq9_band, phq9_risk_flag, phq9_total
from clinic.submissions import (
    Saved,
)


def _add_score(
    actor: User,
    infusion_session: InfusionSession,
    instrument: Instrument,
    timing: ScoreTiming,
    occurred_at: datetime,
    answers: list[int],
    total: int,
    risk_flag: bool,
    submission_key: str | None,
) -> Saved[Score]:
    require_time_in_session(infusion_session, occurred_at, "occurred_at")
    score = Score(
        session_id=infusion_session.id,
        instrument=instrument,
        timing=timing,
        occurred_at=occurred_at,
        answers=answers,
        total=total,
        risk_flag=risk_flag,
        recorded_by_id=actor.id,
    )
    changes: dict[str, Any] = {
        "session_id": infusion_session.id,
        "instrument": instrument.value,
        "timing": timing.value,
        "occurred_at": occurred_at.isoformat(),
        "answers": answers,
        "total": total,
        "risk_flag": risk_flag,
    }
    if instrument == Instrument.PHQ9:
        changes["band"] = phq9_band(total)
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
    infusion_session, earlier = begin_entry(
        Score,
        session_id,
        submission_key,
        actor=actor,
        same_form=lambda e: e.instrument == Instrument.PHQ9,
    )
    if earlier is not None:
        return earlier
    answers = list(answers)
    total = phq9_total(answers)  # ValueError on a malformed list: the form already refused it
    return _add_score(
        actor,
        infusion_session,
        Instrument.PHQ9,
        timing,
        occurred_at,
        answers,
        total,
        phq9_risk_flag(answers),
        submission_key,
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
    infusion_session, earlier = begin_entry(
        Score,
        session_id,
        submission_key,
        actor=actor,
        same_form=lambda e: e.instrument == Instrument.PAIN_NRS,
    )
    if earlier is not None:
        return earlier
    try:
        check_pain_score(score)
    except ValueError as error:
        raise ChartError(str(error), "score") from error
    return _add_score(
        actor,
        infusion_session,
        Instrument.PAIN_NRS,
        timing,
        occurred_at,
        [score],
        score,
        False,
        submission_key,
    )


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
