"""One version of an instrument's definition. A version is never changed once written (a database
trigger refuses UPDATE and DELETE, migration 0015): a clinic changes an instrument by adding a
version, and every score keeps the version it was taken with."""

from __future__ import annotations

from datetime import datetime
from functools import cached_property
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from clinic.database import UTCDateTime, utcnow
from clinic.extensions import db
from clinic.instruments.definitions import Definition, parse_definition


class InstrumentVersion(db.Model):
    __tablename__ = "instrument_version"
    __table_args__ = (sa.UniqueConstraint("code", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(24), index=True)
    version: Mapped[int]
    name: Mapped[str] = mapped_column(sa.String(80))
    definition: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # None for the versions the migration loaded.
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))

    @cached_property
    def spec(self) -> Definition:
        return parse_definition(self.definition)
