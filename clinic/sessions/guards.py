"""The one way a write reaches a session: lock its row, then check it still accepts changes.

Locking the row inside the write transaction (SELECT ... FOR UPDATE on PostgreSQL; SQLite's
BEGIN IMMEDIATE already serialises writers) closes the race where a clinician signs between a
nurse loading the chart and submitting an entry: the entry's transaction waits for the signature
to commit, then sees the session signed and refuses.
"""

from __future__ import annotations

import sqlalchemy as sa

from clinic.extensions import db
from clinic.sessions.models import InfusionSession, SessionStatus


class SessionLockedError(Exception):
    """The session is signed: only an addendum may be added."""

    message = "This session is signed and locked. Corrections go in an addendum."


class SessionNotFoundError(LookupError):
    pass


# Built once: every write to a chart starts with it.
LOCK_SESSION = (
    sa.select(InfusionSession)
    .where(InfusionSession.id == sa.bindparam("session_id"))
    .with_for_update()
    .execution_options(populate_existing=True)
)


def lock_session(session_id: int) -> InfusionSession:
    infusion_session = db.session.scalar(LOCK_SESSION, {"session_id": session_id})
    if infusion_session is None:
        raise SessionNotFoundError(session_id)
    return infusion_session


def lock_session_for_change(session_id: int) -> InfusionSession:
    """Lock the session row and refuse if it is signed."""
    infusion_session = lock_session(session_id)
    if infusion_session.status == SessionStatus.SIGNED:
        raise SessionLockedError
    return infusion_session
