"""Audit events: append-only (a database trigger refuses UPDATE and DELETE) and HMAC-chained."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from clinic.database import UTCDateTime
from clinic.extensions import db

GENESIS_HASH = "0" * 64


class AuditEvent(db.Model):
    __tablename__ = "audit_event"

    # Assigned by record_audit_event under the chain lock, never by the database: the id is part
    # of the hashed content, so a gap or a reordering shows up in verification.
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    action: Mapped[str] = mapped_column(sa.String(64), index=True)
    entity: Mapped[str] = mapped_column(sa.String(64))
    entity_id: Mapped[str | None] = mapped_column(sa.String(64))
    patient_id: Mapped[int | None] = mapped_column(index=True)
    # Canonical JSON text, hashed as stored: re-serialising a JSON column could change the bytes.
    changes: Mapped[str] = mapped_column(sa.Text, default="{}")
    remote_addr: Mapped[str | None] = mapped_column(sa.String(64))
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64), unique=True)

    actor = db.relationship("User", lazy="joined")


class AuditChainHead(db.Model):
    """One row: the newest event. Locked by every append so concurrent writers queue."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_event_id: Mapped[int] = mapped_column(default=0)
    last_hash: Mapped[str] = mapped_column(sa.String(64), default=GENESIS_HASH)
    # HMAC over (last_event_id, last_hash): cutting events off the end of the trail and moving the
    # head back would need the key.
    seal: Mapped[str] = mapped_column(sa.String(64))
