"""Signing in and out, held attempts, password changes. Callers commit."""

from __future__ import annotations

from dataclasses import dataclass, replace

import sqlalchemy as sa
from flask import current_app

from clinic.audit.services import record_audit_event
from clinic.auth import second_factor, throttle
from clinic.auth.models import PasswordHistory, User
from clinic.auth.passwords import hash_password, password_problems, verify_password
from clinic.auth.second_factor import CodeCheck, SecondStep
from clinic.auth.throttle import Failure, KnownDevice
from clinic.database import utcnow
from clinic.extensions import db
from clinic.field_errors import FieldError


@dataclass(frozen=True)
class SignInAttempt:
    """What the login form sent, from where, and the device's known-device cookie if any."""

    username: str
    password: str
    address: str
    device: KnownDevice | None = None


@dataclass(frozen=True)
class SecondStepAttempt:
    """The second step of a sign-in: the person whose password was right, the code typed."""

    user: User
    code: str
    address: str
    device: KnownDevice | None = None


@dataclass(frozen=True)
class LoginResult:
    """The signed-in user, or None: the page says the same whatever the reason.

    `failures_elsewhere`: failed attempts with the username from devices it had not signed in
    on, which this sign-in cleared; shown to the person, who may not have made them.
    `second_step`: the password was right and the sign-in still asks this (the user is given,
    but not signed in). `code_check`: the second step's code, refused (the person may try again
    unless `held`, when the sign-in starts over from the password).
    """

    user: User | None = None
    failures_elsewhere: int = 0
    second_step: SecondStep | None = None
    code_check: CodeCheck | None = None
    held: bool = False


def find_user_by_username(username: str) -> User | None:
    return db.session.scalar(
        sa.select(User).where(sa.func.lower(User.username) == username.strip().lower())
    )


def authenticate(attempt: SignInAttempt) -> LoginResult:
    """Check a sign-in attempt against the held keys and the password (clinic/auth/throttle.py).

    Every refusal looks the same to the caller and costs one password check, so the answer never
    tells whether a username exists, is inactive or is held. A failure holds further attempts,
    never a signed-in session: nothing here touches a session token.
    """
    now = utcnow()
    user = find_user_by_username(attempt.username)
    keys = throttle.keys_for_attempt(attempt.username, user, attempt.address, attempt.device)
    held = throttle.holding(keys.checked, now)
    if held is not None:
        verify_password(None, attempt.password)  # the same cost as a checked attempt
        _count_failures([keys.address])
        _audit_refusal(user, "held", scope=held.scope.value)
        return LoginResult()
    password_ok = verify_password(user.password_hash if user else None, attempt.password)
    if user is None or not user.active or not password_ok:
        # An inactive account's attempts count like any other: a count that stopped at the
        # right password would tell a guesser which one it was.
        _count_failures(keys.counted)
        reason = "unknown username" if user is None else "inactive" if not user.active else None
        _audit_refusal(user, reason or "bad password")
        return LoginResult()
    step = second_factor.step_due(user)
    if step is not None:
        # Not signed in yet: nothing is cleared or recorded as a sign-in before the second step,
        # or someone who has the password could start the count of wrong codes afresh by
        # typing it again.
        return LoginResult(user, second_step=step)
    return _complete_sign_in(user, keys)


def _complete_sign_in(
    user: User, keys: throttle.AttemptKeys, how: str | None = None
) -> LoginResult:
    cleared = throttle.forget(keys.cleared_by_success)
    user.last_login_at = utcnow()
    record_audit_event(
        actor_id=user.id,
        action="login",
        entity="user",
        entity_id=user.id,
        changes={"second_factor": how} if how else None,
    )
    return LoginResult(user, failures_elsewhere=cleared.get(throttle.ThrottleScope.ACCOUNT, 0))


def _second_step_held(attempt: SecondStepAttempt) -> tuple[throttle.AttemptKeys, bool]:
    """The attempt's keys, and whether one of them holds it: then it is refused as a held
    password attempt is (counted on the address, audited), and the sign-in starts over."""
    user = attempt.user
    keys = throttle.keys_for_attempt(user.username, user, attempt.address, attempt.device)
    held = throttle.holding(keys.checked, utcnow())
    if held is not None:
        _count_failures([keys.address])
        _audit_refusal(user, "held", scope=held.scope.value, step="code")
    return keys, held is not None


def confirm_second_factor(attempt: SecondStepAttempt) -> LoginResult:
    """The second step of a sign-in: the authenticator's code or a recovery code.

    Checked against the same held keys as the password, and a wrong code counts as a wrong
    password does (per username or known device, and per address), so whoever has the password
    gets no more guesses at the code than a stranger gets at the password.
    """
    keys, held = _second_step_held(attempt)
    if held:
        return LoginResult(held=True)
    check = second_factor.check_code(attempt.user, attempt.code)
    if not check.accepted:
        _count_failures(keys.counted)
        _audit_refusal(attempt.user, "code already used" if check.spent else "bad code")
        return LoginResult(code_check=check)
    result = _complete_sign_in(attempt.user, keys, str(check.kind))
    second_factor.record_recovery_code_use(attempt.user, check)
    return replace(result, code_check=check)


def enrol_second_factor(
    attempt: SecondStepAttempt, secret: str
) -> tuple[LoginResult, list[str] | None]:
    """The second step of a sign-in that sets up the authenticator: its first code confirms
    the secret shown. Returns the sign-in and the new recovery codes, to be shown once.

    A wrong code is not counted: the person is copying a secret the page showed her, and
    whoever has the password of an account yet to enrol could enrol an app of their own anyway
    (which is why an admin's reset ends the person's sessions and is shown to her).
    """
    keys, held = _second_step_held(attempt)
    if held:
        return LoginResult(held=True), None
    codes = second_factor.enrol(attempt.user, secret, attempt.code)
    if codes is None:
        return LoginResult(code_check=CodeCheck()), None
    return _complete_sign_in(attempt.user, keys, "enrolled"), codes


def _count_failures(keys: list[throttle.ThrottleKey]) -> None:
    now = utcnow()
    for key in keys:
        _audit_hold(throttle.record_failure(key, now))


def _audit_hold(failure: Failure) -> None:
    if failure.held_until is None:
        return
    record_audit_event(
        actor_id=None,
        action="sign_in_held",
        entity="user" if failure.key.user_id is not None else failure.key.scope.value,
        entity_id=failure.key.user_id,
        changes={
            "scope": failure.key.scope.value,
            "failures": failure.failures,
            "held_until": failure.held_until.isoformat(),
        },
    )


def _audit_refusal(user: User | None, reason: str, **details: str) -> None:
    # An unknown username is not recorded: it may be a password typed into the wrong field.
    record_audit_event(
        actor_id=user.id if user else None,
        action="login_failed",
        entity="user",
        entity_id=user.id if user else None,
        changes={"reason": reason, **details},
    )


def record_failed_reauthentication(user: User, purpose: str) -> None:
    """A wrong password re-entered while signed in (to sign, to change it).

    Counted on a key of the person's own, not the account's: a stranger's failures at the login
    page must not add up with her typing slips into ending her session. When the count calls for
    a hold, the session ends (someone at an unattended workstation gets no more guesses there)
    and sign-in for that person is held everywhere, known devices included, until the wait is
    over or an admin clears it.
    """
    failure = throttle.record_failure(throttle.reauth_key(user), utcnow())
    if failure.held_until is not None:
        user.rotate_session_token()
    record_audit_event(
        actor_id=user.id,
        action="reauthentication_failed",
        entity="user",
        entity_id=user.id,
        changes={"purpose": purpose, "failures": failure.failures},
    )
    _audit_hold(failure)


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
