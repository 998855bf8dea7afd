"""A patient's treatment courses with their sessions, reviews and PHQ-9 first and last: the
course page, and the courses at the top of the patient's history.

Response and remission are read from the entered scores as REFERENCE.md defines them (response: a
PHQ-9 total at least 50 % below the course's first; remission: below 5). They are shown, never
used for anything else, and nothing about a dose is read here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from clinic.administration_terms import Route
from clinic.extensions import db
from clinic.patients.courses.models import CourseReview, TreatmentCourse
from clinic.sessions.models import (
    InfusionSession,
    Instrument,
    Score,
    ScoreTiming,
    SessionStatus,
    Signature,
)

REMISSION_BELOW = 5


@dataclass(frozen=True)
class CourseSession:
    id: int
    started_at: datetime
    route: Route
    status: SessionStatus
    number: int | None  # its place among the course's sessions; None when cancelled
    phq9: int | None  # the PHQ-9 taken before dosing, as entered
    phq9_risk: bool
    signed: bool


@dataclass(frozen=True)
class CourseSummary:
    course: TreatmentCourse
    sessions: list[CourseSession] = field(default_factory=list)
    reviews: list[CourseReview] = field(default_factory=list)

    @property
    def held(self) -> int:
        return sum(1 for s in self.sessions if s.number is not None)

    @property
    def phq9_scored(self) -> list[CourseSession]:
        return [s for s in self.sessions if s.phq9 is not None]

    @property
    def phq9_first(self) -> CourseSession | None:
        scored = self.phq9_scored
        return scored[0] if scored else None

    @property
    def phq9_last(self) -> CourseSession | None:
        scored = self.phq9_scored
        return scored[-1] if len(scored) > 1 else None

    @property
    def response(self) -> str | None:
        """ "remission", "response" or None, from the first and the last PHQ-9 as entered."""
        first, last = self.phq9_first, self.phq9_last
        if first is None or last is None or first.phq9 is None or last.phq9 is None:
            return None
        if last.phq9 < REMISSION_BELOW:
            return "remission"
        if last.phq9 * 2 <= first.phq9:
            return "response"
        return None


def course_summaries(courses: Sequence[TreatmentCourse]) -> list[CourseSummary]:
    """The courses with their sessions, PHQ-9 before dosing and reviews: three queries."""
    ids = [course.id for course in courses]
    if not ids:
        return []
    sessions = db.session.execute(
        sa.select(
            InfusionSession.id,
            InfusionSession.course_id,
            InfusionSession.started_at,
            InfusionSession.route,
            InfusionSession.status,
            Signature.id.label("signature_id"),
        )
        .outerjoin(Signature, Signature.session_id == InfusionSession.id)
        .where(InfusionSession.course_id.in_(ids))
        .order_by(InfusionSession.started_at, InfusionSession.id)
    ).all()
    phq9: dict[int, tuple[int, bool]] = {}
    if sessions:
        for score in db.session.execute(
            sa.select(Score.session_id, Score.total, Score.risk_flag)
            .where(
                Score.session_id.in_([s.id for s in sessions]),
                Score.instrument == Instrument.PHQ9,
                Score.timing == ScoreTiming.BEFORE,
                Score.voided_at.is_(None),
            )
            .order_by(Score.occurred_at, Score.id)
        ):
            # The latest of a session's scores stands; an item-9 answer in any stays flagged.
            earlier_risk = phq9.get(score.session_id, (0, False))[1]
            phq9[score.session_id] = (score.total, bool(score.risk_flag) or earlier_risk)
    reviews: dict[int, list[CourseReview]] = {}
    for review in db.session.scalars(
        sa.select(CourseReview)
        .where(CourseReview.course_id.in_(ids))
        .order_by(CourseReview.reviewed_on, CourseReview.id)
    ).unique():
        reviews.setdefault(review.course_id, []).append(review)
    rows: dict[int, list[CourseSession]] = {course_id: [] for course_id in ids}
    counted: dict[int, int] = {}
    for s in sessions:
        number = None
        if s.status != SessionStatus.CANCELLED:
            counted[s.course_id] = number = counted.get(s.course_id, 0) + 1
        score = phq9.get(s.id)
        rows[s.course_id].append(
            CourseSession(
                id=s.id,
                started_at=s.started_at,
                route=s.route,
                status=s.status,
                number=number,
                phq9=score[0] if score else None,
                phq9_risk=score[1] if score else False,
                signed=s.signature_id is not None,
            )
        )
    return [
        CourseSummary(course, rows[course.id], reviews.get(course.id, [])) for course in courses
    ]
