"""Who may be named on a chart: the active clinicians and nurses."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from wtforms.fields.choices import SelectChoice

from clinic.auth.models import Role, User
from clinic.extensions import db
from clinic.form_choices import as_choices
from clinic.sessions.entries import ChartError

# Built once: the chart lists the clinicians on every view.
ACTIVE_STAFF = (
    sa.select(User)
    .where(User.role == sa.bindparam("role"), User.active.is_(True))
    .order_by(sa.func.lower(User.full_name))
)


def active_staff(role: Role) -> list[User]:
    return list(db.session.scalars(ACTIVE_STAFF, {"role": role}))


def require_active(user_id: int | None, role: Role, field: str, what: str) -> None:
    if user_id is None:
        return
    user = db.session.get(User, user_id)
    if user is None or not user.active or user.role != role:
        raise ChartError(f"Choose an active {what}.", field=field)


def staff_choices(role: Role, blank: str | None = None) -> list[SelectChoice]:
    """The active staff of a role as a select's choices, after an optional blank one."""
    choices: list[tuple[Any, str]] = [("", blank)] if blank is not None else []
    return as_choices(choices + [(user.id, user.display_name) for user in active_staff(role)])
