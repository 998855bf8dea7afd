"""A treatment course and its response reviews. Nothing is deleted or edited: a course is opened,
reviewed and ended (completed, or discontinued with a reason)."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinic.auth.models import User
from clinic.database import UTCDateTime, utcnow
from clinic.extensions import db
from clinic.patients.models import Indication, enum_column


class Protocol(enum.StrEnum):
    INDUCTION = "induction"
    MAINTENANCE = "maintenance"
    OTHER = "other"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class CourseStatus(enum.StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    DISCONTINUED = "discontinued"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class TreatmentCourse(db.Model):
    __tablename__ = "treatment_course"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patient.id"), index=True)
    indication: Mapped[Indication] = mapped_column(enum_column(Indication))
    protocol: Mapped[Protocol] = mapped_column(enum_column(Protocol))
    protocol_name: Mapped[str] = mapped_column(sa.String(120), default="")
    planned_sessions: Mapped[int]
    start_date: Mapped[date]
    review_due: Mapped[date | None]
    # The clinician who opened it and answers for it.
    clinician_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    status: Mapped[CourseStatus] = mapped_column(
        enum_column(CourseStatus), default=CourseStatus.ACTIVE
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    end_reason: Mapped[str | None] = mapped_column(sa.Text)

    clinician: Mapped[User] = relationship(foreign_keys=[clinician_id], lazy="joined")
    ended_by: Mapped[User | None] = relationship(foreign_keys=[ended_by_id], lazy="joined")

    @property
    def title(self) -> str:
        """ "Induction", or the protocol's name after it: "Induction (6 IV infusions)"."""
        name = self.protocol_name.strip()
        if self.protocol == Protocol.OTHER and name:
            return name
        return f"{self.protocol.label} ({name})" if name else self.protocol.label

    @property
    def is_active(self) -> bool:
        return self.status == CourseStatus.ACTIVE


class CourseReview(db.Model):
    """A clinician's review of the response to the course so far."""

    __tablename__ = "course_review"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(sa.ForeignKey("treatment_course.id"), index=True)
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patient.id"))
    reviewed_on: Mapped[date]
    clinician_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    note: Mapped[str] = mapped_column(sa.Text)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    clinician: Mapped[User] = relationship(lazy="joined")
