"""Patients. Edits are versioned: a stale edit is refused, never applied over another."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from clinic.database import UTCDateTime, utcnow
from clinic.extensions import db


def enum_column(enum_cls: type[enum.StrEnum], length: int = 24) -> sa.Enum:
    """A StrEnum stored as its value in a VARCHAR (no native enum: adding a member is cheap)."""
    return sa.Enum(
        enum_cls,
        native_enum=False,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Sex(enum.StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class Indication(enum.StrEnum):
    DEPRESSION = "depression"
    FIBROMYALGIA = "fibromyalgia"
    BOTH = "both"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {
            "depression": "Depression",
            "fibromyalgia": "Fibromyalgia",
            "both": "Depression and fibromyalgia",
            "other": "Other",
        }[self.value]


class Patient(db.Model):
    __tablename__ = "patient"

    id: Mapped[int] = mapped_column(primary_key=True)
    mrn: Mapped[str] = mapped_column(sa.String(32), unique=True)
    family_name: Mapped[str] = mapped_column(sa.String(100))
    given_name: Mapped[str] = mapped_column(sa.String(100))
    date_of_birth: Mapped[date]
    sex: Mapped[Sex] = mapped_column(enum_column(Sex))
    allergies: Mapped[str] = mapped_column(sa.Text, default="")
    indication: Mapped[Indication] = mapped_column(enum_column(Indication))
    emergency_contact_name: Mapped[str] = mapped_column(sa.String(120), default="")
    emergency_contact_phone: Mapped[str] = mapped_column(sa.String(40), default="")
    # The patient's ID in the esketamine REMS programme, as the programme issued it.
    rems_patient_id: Mapped[str] = mapped_column(sa.String(40), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    @property
    def display_name(self) -> str:
        return f"{self.family_name.upper()}, {self.given_name}"


sa.Index("ix_patient_family_name_lower", sa.func.lower(Patient.family_name))
sa.Index("ix_patient_given_name_lower", sa.func.lower(Patient.given_name))
