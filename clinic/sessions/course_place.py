"""Where a session stands in its treatment course: "Induction · session 3 of 6".

Sessions are counted in the order they started; a cancelled session was no treatment and takes
no number. The count is read from the record each time, never stored, so a session opened late
for an earlier day falls into its place.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import sqlalchemy as sa

from clinic.extensions import db
from clinic.patients.courses.models import TreatmentCourse
from clinic.sessions.models import InfusionSession, SessionStatus


@dataclass(frozen=True)
class CoursePlace:
    course_id: int
    title: str
    planned: int
    number: int | None  # None for a cancelled session

    @property
    def text(self) -> str:
        if self.number is None:
            return f"{self.title} · cancelled, not counted ({self.planned} planned)"
        return f"{self.title} · session {self.number} of {self.planned}"


def course_places(session_ids: Collection[int]) -> dict[int, CoursePlace]:
    """Each session's place in its course, for those that belong to one: two queries whatever
    the number of sessions (the history's page, a chart)."""
    wanted = set(session_ids)
    if not wanted:
        return {}
    course_ids = sa.select(InfusionSession.course_id).where(
        InfusionSession.id.in_(wanted), InfusionSession.course_id.isnot(None)
    )
    rows = db.session.execute(
        sa.select(
            InfusionSession.id,
            InfusionSession.course_id,
            InfusionSession.status,
        )
        .where(InfusionSession.course_id.in_(course_ids.scalar_subquery()))
        .order_by(InfusionSession.course_id, InfusionSession.started_at, InfusionSession.id)
    ).all()
    if not rows:
        return {}
    courses = {
        course.id: course
        for course in db.session.scalars(
            sa.select(TreatmentCourse).where(
                TreatmentCourse.id.in_({row.course_id for row in rows})
            )
        ).unique()
    }
    places: dict[int, CoursePlace] = {}
    counted: dict[int, int] = {}
    for row in rows:
        course = courses[row.course_id]
        number = None
        if row.status != SessionStatus.CANCELLED:
            counted[row.course_id] = number = counted.get(row.course_id, 0) + 1
        if row.id in wanted:
            places[row.id] = CoursePlace(course.id, course.title, course.planned_sessions, number)
    return places


def course_place(infusion_session: InfusionSession) -> CoursePlace | None:
    return course_places({infusion_session.id}).get(infusion_session.id)
