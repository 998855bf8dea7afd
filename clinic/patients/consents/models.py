"""Consent types (data, seeded by a migration) and the consents a patient gave.

A consent is never edited and never deleted: it is recorded once and may be withdrawn, with when
and why. Whether it is current is read from its dates on the day asked about, never stored.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinic.administration_terms import Route
from clinic.auth.models import User
from clinic.database import UTCDateTime, utcnow
from clinic.extensions import db
from clinic.patients.models import enum_column

# A consent shown as "expiring" this many days before its last valid day.
EXPIRING_WITHIN_DAYS = 30


class ConsentType(db.Model):
    """What a consent is for: the route (and drug) it covers. A clinic adds one without code."""

    __tablename__ = "consent_type"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    route: Mapped[Route] = mapped_column(enum_column(Route))
    # Intranasal esketamine: the patient is enrolled in the REMS programme with this consent.
    requires_rems: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)


class ConsentState(enum.StrEnum):
    CURRENT = "current"
    EXPIRING = "expiring"  # current, but its last valid day is within EXPIRING_WITHIN_DAYS
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"  # signed on a later day than the one asked about
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return {
            "current": "Current",
            "expiring": "Expiring",
            "expired": "Expired",
            "not_yet_valid": "Not yet valid",
            "withdrawn": "Withdrawn",
        }[self.value]

    @property
    def covers(self) -> bool:
        """A session may be opened under a consent in this state."""
        return self in (ConsentState.CURRENT, ConsentState.EXPIRING)


class Consent(db.Model):
    __tablename__ = "consent"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patient.id"), index=True)
    consent_type_id: Mapped[int] = mapped_column(sa.ForeignKey("consent_type.id"))
    document_title: Mapped[str] = mapped_column(sa.String(200))
    document_version: Mapped[str] = mapped_column(sa.String(40))
    signed_on: Mapped[date]
    witnessed_by: Mapped[str] = mapped_column(sa.String(120))
    valid_until: Mapped[date | None]
    note: Mapped[str] = mapped_column(sa.Text, default="")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    recorded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_reason: Mapped[str | None] = mapped_column(sa.Text)
    withdrawn_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))

    consent_type: Mapped[ConsentType] = relationship(lazy="joined")
    recorded_by: Mapped[User] = relationship(foreign_keys=[recorded_by_id], lazy="joined")
    withdrawn_by: Mapped[User | None] = relationship(foreign_keys=[withdrawn_by_id], lazy="joined")

    def state_on(self, day: date) -> ConsentState:
        """The consent's state on `day` (the clinic's date)."""
        if self.withdrawn_at is not None:
            return ConsentState.WITHDRAWN
        if self.signed_on > day:
            return ConsentState.NOT_YET_VALID
        if self.valid_until is not None:
            if self.valid_until < day:
                return ConsentState.EXPIRED
            if (self.valid_until - day).days <= EXPIRING_WITHIN_DAYS:
                return ConsentState.EXPIRING
        return ConsentState.CURRENT
