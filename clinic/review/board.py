"""Today's board: what the nurses and clinicians on shift need to see at a glance."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import joinedload

from clinic.clinic_time import clinic_zone, local_now
from clinic.database import utcnow
from clinic.extensions import db
from clinic.sessions.models import InfusionSession, MonitoringEntry, SessionStatus
from clinic.sessions.services.rems import RemsDue, rems_forms_due


@dataclass(frozen=True)
class BoardRow:
    session: InfusionSession
    last_monitoring_at: datetime | None
    minutes_since_monitoring: int | None
    monitoring_overdue: bool


@dataclass(frozen=True)
class Board:
    today: list[BoardRow]
    awaiting_signature: list[InfusionSession]
    # Esketamine sessions whose REMS monitoring form is not yet submitted, soonest due first.
    rems_due: list[RemsDue] = field(default_factory=list)


def _is_running(infusion_session: InfusionSession) -> bool:
    return (
        infusion_session.status == SessionStatus.IN_PROGRESS
        and infusion_session.discharged_at is None
    )


def build_board() -> Board:
    now = utcnow()
    local_midnight = datetime.combine(local_now().date(), time.min, tzinfo=clinic_zone())
    interval = int(current_app.config["VITALS_SCHEDULE"]["interval_minutes"])

    # max() keeps the column's type, so the value comes back as an aware UTC datetime.
    last_entry = (
        sa.select(
            MonitoringEntry.session_id,
            sa.func.max(MonitoringEntry.occurred_at).label("last_at"),
        )
        .where(MonitoringEntry.voided_at.is_(None))
        .group_by(MonitoringEntry.session_id)
        .subquery()
    )
    rows = db.session.execute(
        sa.select(InfusionSession, last_entry.c.last_at)
        .outerjoin(last_entry, last_entry.c.session_id == InfusionSession.id)
        .where(
            sa.or_(
                InfusionSession.started_at >= local_midnight,
                sa.and_(
                    InfusionSession.status == SessionStatus.IN_PROGRESS,
                    InfusionSession.discharged_at.is_(None),
                ),
            )
        )
        .options(joinedload(InfusionSession.patient), joinedload(InfusionSession.nurse))
        .order_by(InfusionSession.started_at.desc())
    ).all()
    today = []
    for infusion_session, last_at in rows:
        minutes = None if last_at is None else int((now - last_at).total_seconds() // 60)
        overdue = _is_running(infusion_session) and (minutes is None or minutes > interval)
        today.append(BoardRow(infusion_session, last_at, minutes, overdue))

    awaiting = db.session.scalars(
        sa.select(InfusionSession)
        .where(
            InfusionSession.status != SessionStatus.SIGNED,
            InfusionSession.started_at < now - timedelta(days=1),
        )
        .options(joinedload(InfusionSession.patient), joinedload(InfusionSession.nurse))
        .order_by(InfusionSession.started_at)
    ).all()
    return Board(today=today, awaiting_signature=list(awaiting), rems_due=rems_forms_due())
