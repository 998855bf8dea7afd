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
from collections.abc import Collection
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from clinic.audit.services import canonical_json
from clinic.extensions import db
from clinic.sessions.models import (
    Administration,
    AdverseEvent,
    ChecklistCompletion,
    DischargeAssessment,
    InfusionEvent,
    InfusionSession,
    MonitoringEntry,
    Score,
    Screening,
)

DIGEST_VERSION = 1

# Signing itself changes these: the status becomes "signed" and the row's version increments.
_HEADER_EXCLUDED = frozenset({"status", "version"})

# Columns added to a signed table after version 1 was fixed are in the content only when they
# hold a value. Every session signed before a column existed has it empty, so it still hashes to
# the digest its signature holds (a new empty column must not turn every signed chart into a
# tamper warning); a value written into one of them afterwards changes the digest like any other
# change, and on the sessions that hold one it is signed as any column is.
ADDED_AFTER_VERSION_1: dict[str, frozenset[str]] = {
    "infusion_session": frozenset(
        {"consent_id", "course_id", "discharge_override_by_id", "discharge_override_reason"}
    ),
    "administration": frozenset(
        {
            "order_id",
            "concentration",
            "volume_ml",
            "deviation_acknowledged_at",
            "deviation_acknowledged_by_id",
            "deviation_note",
            "adverse_event_id",
        }
    ),
    # Scores stored before instruments were data (0015) hold no version and no assessment.
    "score": frozenset({"instrument_version_id", "assessment_note"}),
}

# Columns added later that every earlier row holds at a default meaning what those rows always
# meant (every administration before purposes was the treatment): left out at that value, so the
# sessions signed before keep their digest; any other value is signed.
LEFT_OUT_AT: dict[str, dict[str, str]] = {"administration": {"purpose": "treatment"}}

ENTRY_MODELS: tuple[tuple[str, type[Any]], ...] = (
    ("administrations", Administration),
    ("infusion_events", InfusionEvent),
    ("monitoring", MonitoringEntry),
    ("scores", Score),
    ("checklist", ChecklistCompletion),
)


# Tables of the record added after version 1 was fixed: in the content only for the sessions that
# have rows in them, so that every session signed before keeps its digest.
ADDED_ENTRY_MODELS: tuple[tuple[str, type[Any]], ...] = (
    ("screening", Screening),
    ("adverse_events", AdverseEvent),
    ("discharge_assessments", DischargeAssessment),
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
    added = ADDED_AFTER_VERSION_1.get(mapper.local_table.name, frozenset())
    left_out = LEFT_OUT_AT.get(mapper.local_table.name, {})
    columns = {
        attr.key: _plain(getattr(obj, attr.key))
        for attr in mapper.column_attrs
        if attr.key not in excluded and not (attr.key in added and getattr(obj, attr.key) is None)
    }
    for name, value in left_out.items():
        if columns.get(name) == value:
            del columns[name]
    return columns


def canonical_contents(session_ids: Collection[int]) -> dict[int, dict[str, Any]]:
    """Each session as signed, {session id: content}, read fresh from the database: a batch of
    sessions in one query per table (`flask audit verify` checks every signed session)."""
    ids = list(session_ids)
    sessions = db.session.scalars(
        sa.select(InfusionSession)
        .where(InfusionSession.id.in_(ids))
        .execution_options(populate_existing=True)
    )
    contents: dict[int, dict[str, Any]] = {
        infusion_session.id: {
            "digest_version": DIGEST_VERSION,
            "session": _columns(infusion_session, _HEADER_EXCLUDED),
            **{name: [] for name, _ in ENTRY_MODELS},
        }
        for infusion_session in sessions
    }
    for name, model in ENTRY_MODELS + ADDED_ENTRY_MODELS:
        rows = db.session.scalars(
            sa.select(model)
            .where(model.session_id.in_(ids))
            .order_by(model.id)
            .execution_options(populate_existing=True)
        )
        for row in rows:
            contents[row.session_id].setdefault(name, []).append(_columns(row))
    return contents


def canonical_content(session_id: int) -> dict[str, Any]:
    """The session as signed: header and every entry, read fresh from the database."""
    content = canonical_contents([session_id]).get(session_id)
    if content is None:
        raise LookupError(session_id)
    return content


def digest_of(content: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()


def content_digest(session_id: int) -> str:
    return digest_of(canonical_content(session_id))
