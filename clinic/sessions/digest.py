"""The signed content of a session and its SHA-256 digest.

A signature vouches for what the clinician saw: the session header and every entry, voided ones
and their void marks included (a void after signing would be a change). Addenda and the signature
itself are outside it, since they are added after signing by design. Every column of every entry
table is taken, so a column added later is covered without touching this file.

Values are read back from the database (populate_existing) and normalised (UTC ISO times,
Decimals without trailing zeros) so the digest is the same on SQLite and PostgreSQL and whether
an object was just written in this request or loaded fresh.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from clinic.audit.services import canonical_json
from clinic.extensions import db
from clinic.sessions.models import (
    Administration,
    ChecklistCompletion,
    InfusionEvent,
    InfusionSession,
    MonitoringEntry,
    Score,
)

DIGEST_VERSION = 1

# Signing itself changes these: the status becomes "signed" and the row's version increments.
_HEADER_EXCLUDED = frozenset({"status", "version"})

ENTRY_MODELS: tuple[tuple[str, type[Any]], ...] = (
    ("administrations", Administration),
    ("infusion_events", InfusionEvent),
    ("monitoring", MonitoringEntry),
    ("scores", Score),
    ("checklist", ChecklistCompletion),
)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, Decimal):
        # 5, 5.0 and 5.0000 are one value; the column's scale must not change the digest.
        return format(value.normalize(), "f")
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


def _columns(obj: Any, excluded: frozenset[str] = frozenset()) -> dict[str, Any]:
    mapper = sa.inspect(type(obj))
    return {
        attr.key: _plain(getattr(obj, attr.key))
        for attr in mapper.column_attrs
        if attr.key not in excluded
    }


def canonical_content(session_id: int) -> dict[str, Any]:
    """The session as signed: header and every entry, read fresh from the database."""
    infusion_session = db.session.scalar(
        sa.select(InfusionSession)
        .where(InfusionSession.id == session_id)
        .execution_options(populate_existing=True)
    )
    if infusion_session is None:
        raise LookupError(session_id)
    content: dict[str, Any] = {
        "digest_version": DIGEST_VERSION,
        "session": _columns(infusion_session, _HEADER_EXCLUDED),
    }
    for name, model in ENTRY_MODELS:
        rows = db.session.scalars(
            sa.select(model)
            .where(model.session_id == session_id)
            .order_by(model.id)
            .execution_options(populate_existing=True)
        ).all()
        content[name] = [_columns(row) for row in rows]
    return content


def content_digest(session_id: int) -> str:
    return hashlib.sha256(canonical_json(canonical_content(session_id)).encode()).hexdigest()
