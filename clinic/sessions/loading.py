"""The one way a view loads a session: with what the chart's header shows, or only its status."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort
from sqlalchemy.orm import joinedload

from clinic.extensions import db
from clinic.sessions.models import InfusionSession, SessionStatus

# Built once: every chart request runs them, and building a select with its loader options is
# not much cheaper than running it.
SESSION_WITH_HEADER = (
    sa.select(InfusionSession)
    .where(InfusionSession.id == sa.bindparam("session_id"))
    .options(
        joinedload(InfusionSession.patient),
        joinedload(InfusionSession.attending_clinician),
        joinedload(InfusionSession.nurse),
        joinedload(InfusionSession.signature),
    )
)
SESSION_STATUS = sa.select(InfusionSession.status).where(
    InfusionSession.id == sa.bindparam("session_id")
)


def get_session_or_404(session_id: int) -> InfusionSession:
    """The session with its patient, staff and signature, or a 404."""
    infusion_session = db.session.scalar(SESSION_WITH_HEADER, {"session_id": session_id})
    if infusion_session is None:
        abort(404)
    return infusion_session


def session_status_or_404(session_id: int) -> SessionStatus:
    """What a post checks before reading its input: the session exists, and its status.

    Only the status is read: the post's service locks and reads the row itself.
    """
    status = db.session.scalar(SESSION_STATUS, {"session_id": session_id})
    if status is None:
        abort(404)
    return status
