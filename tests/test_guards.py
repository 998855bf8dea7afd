"""The one way a write reaches a session: its row locked, re-read, and refused once signed.

Called directly: the race it closes (a signature committed between loading a chart and posting
to it) needs a record changed behind the session's back, which no page can arrange.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from clinic.sessions.guards import (
    SessionLockedError,
    SessionNotFoundError,
    lock_session,
    lock_session_for_change,
)
from clinic.sessions.models import InfusionSession, SessionStatus
from tests.factories import make_patient, open_session_for

MISSING = 987_654


def mark_signed_behind_the_orm(db, session_id: int) -> None:
    """Sign the row with a plain UPDATE: an object already loaded still says open."""
    db.session.execute(
        sa.update(InfusionSession)
        .where(InfusionSession.id == session_id)
        .values(status=SessionStatus.SIGNED)
        .execution_options(synchronize_session=False)
    )


def test_locking_an_unknown_session_names_the_missing_id(charting):
    """Another session exists: the lock reads the one asked for, not any row."""
    with pytest.raises(SessionNotFoundError) as lookup:
        lock_session(MISSING)
    assert lookup.value.args == (MISSING,)
    with pytest.raises(SessionNotFoundError) as change:
        lock_session_for_change(MISSING)
    assert change.value.args == (MISSING,)


def test_each_session_is_locked_by_its_own_id(charting):
    first = charting["session"]
    second = open_session_for(make_patient(), charting["nurse"], charting["clinician"])
    assert lock_session(second.id) is second
    assert lock_session_for_change(second.id) is second
    assert lock_session_for_change(first.id) is first


def test_a_signed_session_is_locked_but_refuses_a_change(db, charting):
    session_id = charting["session"].id
    mark_signed_behind_the_orm(db, session_id)
    assert lock_session(session_id).status == SessionStatus.SIGNED
    with pytest.raises(SessionLockedError) as refused:
        lock_session_for_change(session_id)
    assert refused.value.message == (
        "This session is signed and locked. Corrections go in an addendum."
    )


def test_a_signature_written_after_the_chart_was_loaded_is_seen_when_locking(db, charting):
    loaded = db.session.get(InfusionSession, charting["session"].id)
    assert loaded.status != SessionStatus.SIGNED
    mark_signed_behind_the_orm(db, loaded.id)
    assert loaded.status != SessionStatus.SIGNED  # the identity map is stale
    with pytest.raises(SessionLockedError):
        lock_session_for_change(loaded.id)
    assert loaded.status == SessionStatus.SIGNED


def test_the_locked_row_makes_another_writer_wait(app, db, charting):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers with BEGIN IMMEDIATE, not row locks")
    session_id = charting["session"].id
    lock_session_for_change(session_id)
    other = sa.create_engine(db.engine.url, poolclass=sa.NullPool)
    try:
        with other.connect() as conn, pytest.raises(sa.exc.OperationalError, match="lock"):
            conn.execute(
                sa.select(InfusionSession.id)
                .where(InfusionSession.id == session_id)
                .with_for_update(nowait=True)
            )
    finally:
        other.dispose()
    db.session.rollback()
