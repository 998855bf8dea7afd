"""What a session's answers make due before the patient leaves: the C-SSRS screener, with a
clinician's assessment, after a flag whose rule requires it (PHQ-9 item 9 above 0) or a positive
suicidality question in the day's screening.

`cssrs_triggers` is the one place that says why the screener is due."""

from __future__ import annotations

import sqlalchemy as sa

from clinic.extensions import db
from clinic.sessions.models import Instrument, Score
from clinic.sessions.services.scores import score_definition
from clinic.sessions.services.screening import screening_of


def _valid_scores(session_id: int) -> list[Score]:
    return list(
        db.session.scalars(
            sa.select(Score)
            .where(Score.session_id == session_id, Score.voided_at.is_(None))
            .order_by(Score.occurred_at, Score.id)
        ).unique()
    )


def cssrs_triggers(session_id: int, scores: list[Score] | None = None) -> list[str]:
    """Why the C-SSRS screener is due in this session (empty: it is not)."""
    reasons = []
    for score in _valid_scores(session_id) if scores is None else scores:
        if score.is_voided or not score.risk_flag:
            continue
        definition = score_definition(score)
        for rule in definition.flagged(list(score.answers)):
            if rule.requires == Instrument.CSSRS:
                reasons.append(f"{definition.name}: {rule.label}")
    screening = screening_of(session_id)
    if screening is not None and screening.suicidality_positive:
        reasons.append("Screening: suicidality question positive")
    return reasons


def cssrs_outstanding(session_id: int) -> list[str]:
    """The reasons the screener is due, while no valid one with its assessment is recorded."""
    scores = _valid_scores(session_id)
    done = any(s.instrument == Instrument.CSSRS and s.assessment_note for s in scores)
    return [] if done else cssrs_triggers(session_id, scores)
