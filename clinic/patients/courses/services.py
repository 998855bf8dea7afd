"""Opening, reviewing and ending a treatment course: the clinician's alone (DESIGN.md §2).

A patient has at most one active course, so that "the course" a session opens under is never in
doubt: an induction is completed before the maintenance that follows it is opened. Every write is
audited in the caller's transaction with every value it stores (clinic/review/record_trail.py
replays them); callers commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from clinic.audit.services import diff, record_audit_event
from clinic.auth.models import Role, User
from clinic.clinic_time import local_now
from clinic.database import utcnow
from clinic.extensions import db
from clinic.field_errors import FieldError
from clinic.patients.courses.models import (
    CourseReview,
    CourseStatus,
    Protocol,
    TreatmentCourse,
)
from clinic.patients.models import Indication, Patient
from clinic.submissions import Saved, earlier_entry, remember_submission

MAX_PLANNED_SESSIONS = 100


class CourseError(FieldError):
    """A course change refused for a reason the user can fix."""


class CourseEndedAlreadyError(CourseError):
    """Someone ended the course after the page was loaded."""

    def __init__(self) -> None:
        super().__init__("This course has ended already; nothing was changed.")


@dataclass(frozen=True)
class CourseDetails:
    indication: Indication
    protocol: Protocol
    protocol_name: str
    planned_sessions: int
    start_date: date
    review_due: date | None = None


def clinic_today() -> date:
    return local_now().date()


def _require_clinician(actor: User) -> None:
    if actor.role != Role.CLINICIAN:
        raise PermissionError("Only clinicians open, review and end treatment courses.")


def courses_of(patient_id: int) -> list[TreatmentCourse]:
    """The patient's courses, newest first."""
    return list(
        db.session.scalars(
            sa.select(TreatmentCourse)
            .where(TreatmentCourse.patient_id == patient_id)
            .order_by(TreatmentCourse.start_date.desc(), TreatmentCourse.id.desc())
        ).unique()
    )


def active_course(patient_id: int) -> TreatmentCourse | None:
    return db.session.scalar(
        sa.select(TreatmentCourse)
        .where(
            TreatmentCourse.patient_id == patient_id,
            TreatmentCourse.status == CourseStatus.ACTIVE,
        )
        .order_by(TreatmentCourse.id.desc())
        .limit(1)
    )


def reviews_of(course_id: int) -> list[CourseReview]:
    return list(
        db.session.scalars(
            sa.select(CourseReview)
            .where(CourseReview.course_id == course_id)
            .order_by(CourseReview.reviewed_on, CourseReview.id)
        ).unique()
    )


def course_of_patient(patient_id: int, course_id: int) -> TreatmentCourse | None:
    course = db.session.get(TreatmentCourse, course_id)
    return course if course is not None and course.patient_id == patient_id else None


def _check(details: CourseDetails) -> CourseDetails:
    name = details.protocol_name.strip()
    if details.protocol == Protocol.OTHER and not name:
        raise CourseError("Name the protocol.", "protocol_name")
    if not 1 <= details.planned_sessions <= MAX_PLANNED_SESSIONS:
        raise CourseError(
            f"Plan between 1 and {MAX_PLANNED_SESSIONS} sessions.", "planned_sessions"
        )
    if details.review_due is not None and details.review_due < details.start_date:
        raise CourseError("The review falls due after the course starts.", "review_due")
    return CourseDetails(
        indication=details.indication,
        protocol=details.protocol,
        protocol_name=name,
        planned_sessions=details.planned_sessions,
        start_date=details.start_date,
        review_due=details.review_due,
    )


def open_course(
    actor: User, patient_id: int, details: CourseDetails, submission_key: str | None
) -> Saved[TreatmentCourse]:
    """Open a course for the patient. The patient row is locked: a double post finds the first
    one's course by the form's one-time key, and two clinicians cannot both open one."""
    _require_clinician(actor)
    patient = db.session.scalar(
        sa.select(Patient).where(Patient.id == patient_id).with_for_update()
    )
    if patient is None:
        raise CourseError("This patient does not exist.")
    earlier = earlier_entry(
        TreatmentCourse, submission_key, actor=actor, belongs=lambda c: c.patient_id == patient_id
    )
    if earlier is not None:
        return earlier
    details = _check(details)
    if active_course(patient_id) is not None:
        raise CourseError(
            "This patient has an active course: complete or discontinue it before opening "
            "the next one."
        )
    course = TreatmentCourse(
        patient_id=patient_id,
        indication=details.indication,
        protocol=details.protocol,
        protocol_name=details.protocol_name,
        planned_sessions=details.planned_sessions,
        start_date=details.start_date,
        review_due=details.review_due,
        clinician_id=actor.id,
        status=CourseStatus.ACTIVE,
        created_at=utcnow(),
    )
    db.session.add(course)
    db.session.flush()
    remember_submission(submission_key, actor.id, TreatmentCourse.__tablename__, course.id)
    record_audit_event(
        actor_id=actor.id,
        action="course_opened",
        entity=TreatmentCourse.__tablename__,
        entity_id=course.id,
        patient_id=patient_id,
        changes=diff(
            {},
            {
                "indication": course.indication.value,
                "protocol": course.protocol.value,
                "protocol_name": course.protocol_name,
                "planned_sessions": course.planned_sessions,
                "start_date": course.start_date.isoformat(),
                "review_due": course.review_due.isoformat() if course.review_due else None,
                "status": course.status.value,
                "created_at": course.created_at.isoformat(),
            },
        ),
    )
    return Saved(course)


def review_course(
    actor: User,
    patient_id: int,
    course_id: int,
    reviewed_on: date,
    note: str,
    submission_key: str | None,
) -> Saved[CourseReview]:
    """A response review of the course: the clinician's note, read from the entered scores."""
    _require_clinician(actor)
    course = _lock(patient_id, course_id)
    earlier = earlier_entry(
        CourseReview, submission_key, actor=actor, belongs=lambda r: r.course_id == course.id
    )
    if earlier is not None:
        return earlier
    note = note.strip()
    if not note:
        raise CourseError("Write the review.", "note")
    if reviewed_on > clinic_today():
        raise CourseError("A review is dated today or earlier.", "reviewed_on")
    if reviewed_on < course.start_date:
        raise CourseError("A review is dated on or after the course's start.", "reviewed_on")
    review = CourseReview(
        course_id=course.id,
        patient_id=patient_id,
        reviewed_on=reviewed_on,
        clinician_id=actor.id,
        note=note,
        recorded_at=utcnow(),
    )
    db.session.add(review)
    db.session.flush()
    remember_submission(submission_key, actor.id, CourseReview.__tablename__, review.id)
    record_audit_event(
        actor_id=actor.id,
        action="course_reviewed",
        entity=CourseReview.__tablename__,
        entity_id=review.id,
        patient_id=patient_id,
        changes=diff(
            {},
            {
                "course_id": course.id,
                "reviewed_on": reviewed_on.isoformat(),
                "note": note,
                "recorded_at": review.recorded_at.isoformat(),
            },
        ),
    )
    return Saved(review)


def end_course(
    actor: User, patient_id: int, course_id: int, outcome: CourseStatus, reason: str
) -> TreatmentCourse:
    """Complete the course, or discontinue it with a reason. Once ended it stays ended."""
    _require_clinician(actor)
    if outcome not in (CourseStatus.COMPLETED, CourseStatus.DISCONTINUED):
        raise CourseError("Choose completed or discontinued.", "outcome")
    course = _lock(patient_id, course_id)
    if not course.is_active:
        raise CourseEndedAlreadyError
    reason = reason.strip()
    if outcome == CourseStatus.DISCONTINUED and not reason:
        raise CourseError("Say why the course is discontinued.", "reason")
    previous = course.status
    course.status = outcome
    course.ended_at = utcnow()
    course.ended_by_id = actor.id
    course.end_reason = reason or None
    db.session.flush()
    record_audit_event(
        actor_id=actor.id,
        action="course_ended",
        entity=TreatmentCourse.__tablename__,
        entity_id=course.id,
        patient_id=patient_id,
        changes={
            "status": [previous.value, outcome.value],
            "ended_at": [None, course.ended_at.isoformat()],
            "ended_by_id": [None, actor.id],
            "end_reason": [None, course.end_reason],
        },
    )
    return course


def _lock(patient_id: int, course_id: int) -> TreatmentCourse:
    course = db.session.scalar(
        sa.select(TreatmentCourse)
        .where(TreatmentCourse.id == course_id, TreatmentCourse.patient_id == patient_id)
        .with_for_update(of=TreatmentCourse)
        .execution_options(populate_existing=True)
    )
    if course is None:
        raise LookupError(course_id)
    return course
