"""Small helpers the test modules share: reading pages, clinic time, audit rows, query counts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from clinic.audit.models import AuditEvent
from clinic.clinic_time import to_local
from clinic.database import utcnow
from clinic.extensions import db
from clinic.sessions.models import InfusionSession, SessionStatus

LOCAL_INPUT_FORMAT = "%Y-%m-%dT%H:%M"


def local_text(moment: datetime) -> str:
    """A UTC moment as the chart's datetime-local input expects it (clinic time)."""
    return to_local(moment).strftime(LOCAL_INPUT_FORMAT)


def local_minutes_ago(minutes: int = 5) -> str:
    """A datetime-local input value `minutes` before now, in clinic time."""
    return local_text(utcnow() - timedelta(minutes=minutes))


def to_local_date_and_time(moment: datetime) -> tuple[str, str]:
    """A UTC moment as the chart's two time inputs show it: the date, and a 24-hour HH:MM."""
    local = to_local(moment)
    return local.strftime("%Y-%m-%d"), local.strftime("%H:%M")


def minute(moment: datetime) -> datetime:
    """The moment cut to the minute, as a datetime-local input can express it."""
    return moment.replace(second=0, microsecond=0)


def input_value(html: str, name: str) -> str | None:
    """The value attribute of the input with this name ('' when it has none); None if absent."""
    match = re.search(rf"<input[^>]*\bname=\"{re.escape(name)}\"[^>]*>", html)
    if match is None:
        return None
    value = re.search(r'\bvalue="([^"]*)"', match.group(0))
    return value.group(1) if value else ""


def time_value(html: str, name: str) -> str | None:
    """A charted time as its form shows it (the date and the 24-hour time inputs of
    templates/macros/forms.html `time_control`), as the one "YYYY-MM-DDTHH:MM" it stands for."""
    date, time = input_value(html, f"{name}-date"), input_value(html, name)
    if date is None or time is None:
        return None
    return f"{date}T{time}" if date or time else ""


def submission_key(html: str, form_action: str) -> str:
    """The one-time key of the form posting to this action, as the browser would send it."""
    start = re.search(rf'action="{re.escape(form_action)}["#]', html)
    assert start, f"no form posting to {form_action}"
    form = html[start.start() : html.index("</form>", start.start())]
    key = re.search(r'<input[^>]*name="(?:[\w-]+-)?submission_key"[^>]*>', form)
    assert key, "form has no one-time key"
    key = re.search(r'value="([^"]+)"', key.group(0))
    assert key, "form has no one-time key"
    return key.group(1)


def audit_actions(action: str) -> list[AuditEvent]:
    """The audit events of this action, oldest first."""
    return list(
        db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
    )


def sign_in_db(infusion_session_id: int) -> None:
    """Sign the session behind the test client's back, as a clinician on another tablet would."""
    db.session.execute(
        sa.update(InfusionSession)
        .where(InfusionSession.id == infusion_session_id)
        .values(status=SessionStatus.SIGNED, version=InfusionSession.version + 1)
    )
    db.session.commit()
    db.session.expire_all()


@contextmanager
def count_queries(engine: sa.Engine | None = None) -> Iterator[list[str]]:
    """The SQL statements sent to the database (the app's engine unless given) inside the block."""
    target = engine if engine is not None else db.engine
    statements: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(target, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        sa.event.remove(target, "before_cursor_execute", before)
