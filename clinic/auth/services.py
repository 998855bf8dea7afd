"""Signing in and out, lockout, password changes. Callers commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from clinic.audit.services import record_audit_event
from clinic.auth.models import PasswordHistory, User
from clinic.auth.passwords import hash_password, password_problems, verify_password
from clinic.database import utcnow
from clinic.extensions import db
from clinic.field_errors import FieldError


@dataclass(frozen=True)
class LoginResult:
    """The signed-in user, or None: the page says the same whatever the reason."""

    user: User | None = None


def find_user_by_username(username: str) -> User | None:
    return db.session.scalar(
        sa.select(User).where(sa.func.lower(User.username) == username.strip().lower())
    )


def authenticate(username: str, password: str) -> LoginResult:
    """Check a login attempt, count failures and lock the account after too many.

    Every refusal looks the same to the caller, so the answer never tells whether a username
    exists or is locked.
    """
    user = find_user_by_username(username)
    now = utcnow()
    password_ok = verify_password(user.password_hash if user else None, password)
    if user is not None:
        # Re-read the counters under a row lock: parallel guesses would otherwise each read the
        # same count and write count + 1, and never reach the lockout.
        db.session.refresh(user, with_for_update=True)
    else:
        record_audit_event(
            actor_id=None,
            action="login_failed",
            entity="user",
            changes={"reason": "unknown username"},
        )
        return LoginResult()
    if not user.active or user.is_locked(now) or not password_ok:
        reason = (
            "inactive" if not user.active else "locked" if user.is_locked(now) else "bad password"
        )
        if reason == "bad password":
            _count_failure(user)
        record_audit_event(
            actor_id=user.id,
            action="login_failed",
            entity="user",
            entity_id=user.id,
            changes={"reason": reason, "failed_login_count": user.failed_login_count},
        )
        return LoginResult()
    user.failed_login_count = 0
    user.locked_until = None
    user.last_login_at = now
    record_audit_event(actor_id=user.id, action="login", entity="user", entity_id=user.id)
    return LoginResult(user)


def _count_failure(user: User) -> None:
    user.failed_login_count += 1
    if user.failed_login_count >= current_app.config["LOCKOUT_THRESHOLD"]:
        user.failed_login_count = 0
        user.locked_until = utcnow() + timedelta(minutes=current_app.config["LOCKOUT_MINUTES"])
        user.rotate_session_token()  # a signed-in guesser (re-entered password) is signed out
        record_audit_event(
            actor_id=user.id,
            action="account_locked",
            entity="user",
            entity_id=user.id,
            changes={"locked_until": user.locked_until.isoformat()},
        )


def record_failed_reauthentication(user: User, purpose: str) -> None:
    """A wrong password re-entered while signed in (to sign, to change it) counts like a failed
    login: someone at an unattended workstation must not get unlimited guesses."""
    db.session.refresh(user, with_for_update=True)
    _count_failure(user)
    record_audit_event(
        actor_id=user.id,
        action="reauthentication_failed",
        entity="user",
        entity_id=user.id,
        changes={"purpose": purpose, "failed_login_count": user.failed_login_count},
    )


def logout(user: User) -> None:
    user.rotate_session_token()
    record_audit_event(actor_id=user.id, action="logout", entity="user", entity_id=user.id)


class PasswordChangeError(FieldError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, field)


def set_password(user: User, password: str) -> None:
    """Store a password: its hash on the account and at the head of the account's history, which
    keeps the latest PASSWORD_HISTORY hashes. The one way a password is stored."""
    user.password_hash = hash_password(password)
    db.session.add(PasswordHistory(user=user, password_hash=user.password_hash))
    db.session.flush()
    kept = current_app.config["PASSWORD_HISTORY"]
    older = db.session.scalars(
        sa.select(PasswordHistory.id)
        .where(PasswordHistory.user_id == user.id)
        .order_by(PasswordHistory.id.desc())
        .offset(max(kept, 1))
    ).all()
    if older:
        db.session.execute(sa.delete(PasswordHistory).where(PasswordHistory.id.in_(older)))


def password_was_used(user: User, password: str) -> bool:
    """Whether the password is the current one or one of the latest before it."""
    recent = db.session.scalars(
        sa.select(PasswordHistory.password_hash)
        .where(PasswordHistory.user_id == user.id)
        .order_by(PasswordHistory.id.desc())
        .limit(max(current_app.config["PASSWORD_HISTORY"], 1))
    ).all()
    hashes = dict.fromkeys([user.password_hash, *recent])
    return any(verify_password(old_hash, password) for old_hash in hashes)


def change_password(user: User, current_password: str, new_password: str) -> None:
    if not verify_password(user.password_hash, current_password):
        raise PasswordChangeError("current_password", "The current password is not correct.")
    if new_password == current_password:
        raise PasswordChangeError(
            "new_password", "Choose a password different from the current one."
        )
    problems = password_problems(new_password, user.username, user.full_name)
    if problems:
        raise PasswordChangeError("new_password", " ".join(problems))
    if password_was_used(user, new_password):
        raise PasswordChangeError(
            "new_password",
            "You used this password before: choose one you have not used for this account "
            f"(the last {current_app.config['PASSWORD_HISTORY']} may not come back).",
        )
    set_password(user, new_password)
    user.must_change_password = False
    user.rotate_session_token()
    record_audit_event(
        actor_id=user.id,
        action="password_changed",
        entity="user",
        entity_id=user.id,
        changes={"password": "changed"},
    )
