"""A medication order: the treatment dose or a PRN (as-needed) medicine, as the clinician wrote it.

The amount is stored exactly as written (Numeric, no float); weight-based reasoning is the
clinician's own text in the note. Nothing is computed from it: an administration is compared with
it value by value, never derived from it.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinic.administration_terms import Method, Route
from clinic.auth.models import User
from clinic.database import UTCDateTime, utcnow
from clinic.extensions import db
from clinic.patients.models import enum_column

AMOUNT = sa.Numeric(14, 4)  # as the administration's dose: up to 4 decimals, never rounded
ORDER_MEANING = "Ordered and signed"


class OrderKind(enum.StrEnum):
    TREATMENT = "treatment"
    PRN = "prn"

    @property
    def label(self) -> str:
        return {"treatment": "Treatment", "prn": "PRN (as needed)"}[self.value]


class OrderStatus(enum.StrEnum):
    ACTIVE = "active"
    SUPERSEDED = "superseded"
    DISCONTINUED = "discontinued"

    @property
    def label(self) -> str:
        return {"active": "In force", "superseded": "Superseded", "discontinued": "Discontinued"}[
            self.value
        ]


class MedicationOrder(db.Model):
    __tablename__ = "medication_order"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patient.id"), index=True)
    # For the sessions of a course (a series order), or for one session.
    course_id: Mapped[int | None] = mapped_column(sa.ForeignKey("treatment_course.id"), index=True)
    session_id: Mapped[int | None] = mapped_column(sa.ForeignKey("infusion_session.id"), index=True)
    kind: Mapped[OrderKind] = mapped_column(enum_column(OrderKind))
    drug: Mapped[str] = mapped_column(sa.String(120))
    concentration: Mapped[str] = mapped_column(sa.String(60), default="")
    dose_amount: Mapped[Decimal] = mapped_column(AMOUNT)
    dose_unit: Mapped[str] = mapped_column(sa.String(20))
    route: Mapped[Route] = mapped_column(enum_column(Route))
    method: Mapped[Method] = mapped_column(enum_column(Method))
    rate_or_duration: Mapped[str] = mapped_column(sa.String(120), default="")
    # PRN only: what it is for ("nausea", "SBP ≥ 180"), how often and how many times a session.
    indication: Mapped[str] = mapped_column(sa.String(200), default="")
    min_interval_minutes: Mapped[int | None]
    max_doses_per_session: Mapped[int | None]
    note: Mapped[str] = mapped_column(sa.Text, default="")
    supersedes_id: Mapped[int | None] = mapped_column(sa.ForeignKey("medication_order.id"))
    status: Mapped[OrderStatus] = mapped_column(
        enum_column(OrderStatus), default=OrderStatus.ACTIVE, index=True
    )
    # The signature: who wrote it, as they were named then, and when (password re-entered).
    signed_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    signer_name: Mapped[str] = mapped_column(sa.String(120))
    signer_credentials: Mapped[str] = mapped_column(sa.String(40))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    discontinue_reason: Mapped[str | None] = mapped_column(sa.Text)

    signed_by: Mapped[User] = relationship(foreign_keys=[signed_by_id], lazy="joined")
    ended_by: Mapped[User | None] = relationship(foreign_keys=[ended_by_id], lazy="joined")

    @property
    def in_force(self) -> bool:
        return self.status == OrderStatus.ACTIVE

    @property
    def signer(self) -> str:
        return f"{self.signer_name}, {self.signer_credentials}".rstrip(", ")
