"""Staff account changes. Every change is audited; callers commit.

An admin cannot lock themselves out, and the clinic always keeps one active admin: the checks
count active admins with their rows locked, so two admins demoting each other at the same moment
cannot both succeed.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

import sqlalchemy as sa

from clinic.audit.services import diff, record_audit_event
from clinic.auth import second_factor, throttle
from clinic.auth.models import Role, User
from clinic.auth.passwords import password_problems
from clinic.auth.services import find_user_by_username, set_password
from clinic.extensions import db
from clinic.field_errors import FieldError


class StaffError(FieldError):
    """An account change refused, with the field at fault."""


# A username is typed at every sign-in and shown on the staff pages: one rule for the staff form
# and for every other way an account is made (create-admin, bootstrap-admin).
USERNAME_MIN_LENGTH = 2
USERNAME_MAX_LENGTH = 64
USERNAME_CHARACTERS = r"[A-Za-z0-9._-]+"
USERNAME_CHARACTERS_MESSAGE = "Use letters, digits, dots, dashes or underscores."


def username_problem(username: str) -> str | None:
    """What is wrong with a proposed username, in words; None when nothing is."""
    if not USERNAME_MIN_LENGTH <= len(username) <= USERNAME_MAX_LENGTH:
        return f"Use {USERNAME_MIN_LENGTH} to {USERNAME_MAX_LENGTH} characters."
    if re.fullmatch(USERNAME_CHARACTERS, username) is None:
        return USERNAME_CHARACTERS_MESSAGE
    return None


@dataclass(frozen=True)
class StaffDetails:
    full_name: str
    credentials: str
    role: Role


def generate_temporary_password() -> str:
    return secrets.token_urlsafe(12)


def _check_password(password: str, username: str, full_name: str) -> None:
    problems = password_problems(password, username, full_name)
    if problems:
        raise StaffError(" ".join(problems), field="password")


def create_user(
    actor: User | None,
    username: str,
    details: StaffDetails,
    password: str,
    *,
    must_change_password: bool = True,
) -> User:
    username = username.strip()
    problem = username_problem(username)
    if problem:
        raise StaffError(problem, field="username")
    if find_user_by_username(username) is not None:
        raise StaffError("This username is taken.", field="username")
    _check_password(password, username, details.full_name.strip())
    user = User(
        username=username,
        full_name=details.full_name.strip(),
        credentials=details.credentials.strip(),
        role=details.role,
        must_change_password=must_change_password,
    )
    db.session.add(user)
    set_password(user, password)
    record_audit_event(
        actor_id=actor.id if actor else None,
        action="staff_created",
        entity="user",
        entity_id=user.id,
        changes={
            "username": username,
            "full_name": user.full_name,
            "credentials": user.credentials,
            "role": user.role.value,
        },
    )
    return user


def _other_active_admins(user: User) -> int:
    ids = db.session.scalars(
        sa.select(User.id)
        .where(User.role == Role.ADMIN, User.active.is_(True), User.id != user.id)
        .with_for_update()
    ).all()
    return len(ids)


def update_user(actor: User, user: User, details: StaffDetails) -> None:
    before = _snapshot(user)
    if user.role == Role.ADMIN and details.role != Role.ADMIN:
        if user.id == actor.id:
            raise StaffError("You cannot remove your own admin role.", field="role")
        if user.active and _other_active_admins(user) == 0:
            raise StaffError("The clinic needs at least one active admin.", field="role")
    role_changed = user.role != details.role
    user.full_name = details.full_name.strip()
    user.credentials = details.credentials.strip()
    user.role = details.role
    if role_changed:
        user.rotate_session_token()  # the old role's cookies stop working at once
    changes = diff(before, _snapshot(user))
    if changes:
        record_audit_event(
            actor_id=actor.id,
            action="staff_updated",
            entity="user",
            entity_id=user.id,
            changes=changes,
        )


def reset_password(actor: User, user: User, temporary_password: str) -> None:
    _check_password(temporary_password, user.username, user.full_name)
    set_password(user, temporary_password)
    user.must_change_password = True
    user.rotate_session_token()
    record_audit_event(
        actor_id=actor.id,
        action="staff_password_reset",
        entity="user",
        entity_id=user.id,
        changes={"password": "reset", "must_change_password": [False, True]},
    )
    # The person gets a password from the admin: what held their sign-in goes with the old one.
    clear_sign_in_holds(actor, user)


def reset_second_factor(actor: User, user: User) -> None:
    """A lost phone: the app's secret and the recovery codes go, the person's sessions end, and
    she sets up her app again at her next sign-in, told of the reset there. Audited. A password
    reset leaves the second factor alone (reset_password), so an admin who resets a clinician's
    password still cannot sign in as her."""
    second_factor.reset(actor, user)


def clear_sign_in_holds(actor: User, user: User) -> bool:
    """Clear what failed sign-ins counted against the account (its username's holds, its known
    devices', its own re-entered passwords'); the client addresses' limits stay. Audited with
    what was cleared; False when there was nothing to clear."""
    cleared = throttle.clear_counts_of(user)
    if not cleared:
        return False
    record_audit_event(
        actor_id=actor.id,
        action="sign_in_holds_cleared",
        entity="user",
        entity_id=user.id,
        changes={"cleared": cleared},
    )
    return True


def set_active(actor: User, user: User, active: bool) -> None:
    if user.active == active:
        return
    if not active:
        if user.id == actor.id:
            raise StaffError("You cannot deactivate your own account.")
        if user.role == Role.ADMIN and _other_active_admins(user) == 0:
            raise StaffError("The clinic needs at least one active admin.")
        user.rotate_session_token()
    user.active = active
    record_audit_event(
        actor_id=actor.id,
        action="staff_reactivated" if active else "staff_deactivated",
        entity="user",
        entity_id=user.id,
        changes={"active": [not active, active]},
    )


def _snapshot(user: User) -> dict[str, str]:
    return {"full_name": user.full_name, "credentials": user.credentials, "role": user.role.value}
