"""The one way a write reaches a session: lock its row, then check it still accepts changes.

Locking the row inside the write transaction (SELECT ... FOR UPDATE on PostgreSQL; SQLite's
BEGIN IMMEDIATE already serialises writers) closes the race where a clinician signs between a
nurse loading the chart and submitting an entry: the entry's transaction waits for the signature
to commit, then sees the session signed and refuses.
"""

from __future__ import annotations

import sqlalchemy as sa

from clinic.extensions import db
from clinic.sessions.models import FormSubmission, InfusionSession, SessionStatus


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


def earlier_submission(key: str | None) -> FormSubmission | None:
    """The submission that already used this form's one-time key, if any.

    Call after `lock_session_for_change`: a concurrent duplicate then waits on the session lock
    and finds the first post's key here instead of racing it.
    """
    return db.session.get(FormSubmission, key) if key else None


class SubmissionKey(str):
    """A form's one-time key, carrying the fingerprint of the values posted with it.

    A plain string (a script, a test) is a key without a fingerprint: only its owner is checked.
    """

    fingerprint: str | None = None

    @classmethod
    def of(cls, key: str | None, fingerprint: str) -> SubmissionKey | None:
        if not key:
            return None
        submission = cls(key)
        submission.fingerprint = fingerprint
        return submission


def remember_submission(key: str | None, user_id: int, entity: str, entity_id: int) -> None:
    if key:
        db.session.add(
            FormSubmission(
                key=str(key),
                user_id=user_id,
                entity=entity,
                entity_id=entity_id,
                payload_hash=getattr(key, "fingerprint", None),
            )
        )
