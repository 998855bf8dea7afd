"""Failed sign-ins slow down, then hold, further *attempts*; they never end a signed-in session.

A stranger who types wrong passwords for a username must not be able to sign that person out or
keep them out. So failures are counted per key, and a key past its threshold holds the attempts
that use it, not the account:

- account: a username (existing or not) typed on a device that has not signed it in before.
  Holds that username on such devices; cleared by a sign-in with it, or by an admin.
- device: a username on a device where it signed in before (the known-device cookie). Holds
  that username on that device; cleared by a sign-in there, or by an admin.
- address: the client address, whatever the username; held attempts count here too. Holds
  every attempt from the address, known devices included; only time clears it.
- reauth: the signed-in person re-entering a wrong password (to sign, to change it). Ends her
  session when it holds, and holds her sign-in everywhere; cleared by a sign-in or an admin.

The person's own device is known to the app (a signed cookie set at each successful sign-in,
clinic/auth/known_devices.py), so a stranger's failures on the account key do not hold her: on
her device she counts on a key of its own. The address limit holds every device, hers included;
it is higher, since a clinic behind one address shares it.

From the LOCKOUT_THRESHOLD-th failure on (the LOCKOUT_ADDRESS_THRESHOLD-th for an address),
each failure holds the key: for LOCKOUT_FIRST_WAIT_SECONDS, then twice as long each time, up to
LOCKOUT_MINUTES. A held attempt is refused without a password check (at the cost of one, so
the time tells nothing) and does not lengthen the hold. A failure more than LOCKOUT_FORGET_MINUTES
after the previous one starts the count afresh.

Counts live in the database (one upsert per failure, atomic on both databases), so every worker
and every server sees the same ones. Keys are HMACs (SECRET_KEY) of the scope and the subject:
no typed username (or password typed into the username field) or address is stored.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite

from clinic.auth.models import SignInThrottle, ThrottleScope, User
from clinic.extensions import db


@dataclass(frozen=True)
class ThrottleKey:
    scope: ThrottleScope
    digest: str
    user_id: int | None = None


@dataclass(frozen=True)
class KnownDevice:
    """A device (browser) on which these accounts signed in before, from its signed cookie."""

    device_id: str
    user_ids: tuple[int, ...] = ()

    def knows(self, user: User | None) -> bool:
        return user is not None and user.id in self.user_ids


@dataclass(frozen=True)
class Failure:
    """A failure counted: the count it reached, and the hold it started (None if none)."""

    key: ThrottleKey
    failures: int
    held_until: datetime | None


@dataclass(frozen=True)
class AttemptKeys:
    """The keys one sign-in attempt is checked against, counted on and clears."""

    address: ThrottleKey
    account: ThrottleKey
    identity: ThrottleKey  # the device's key where the device knows the account, else the account's
    reauth: ThrottleKey | None

    @property
    def checked(self) -> list[ThrottleKey]:
        keys = [self.address, self.identity]
        if self.reauth is not None:
            keys.append(self.reauth)
        return keys

    @property
    def counted(self) -> list[ThrottleKey]:
        return [self.address, self.identity]

    @property
    def cleared_by_success(self) -> list[ThrottleKey]:
        """A sign-in by the right person clears what held her: never the address's count, which
        an attacker with an account of their own could otherwise reset between guesses."""
        keys = [self.identity, self.account]
        if self.reauth is not None:
            keys.append(self.reauth)
        return list(dict.fromkeys(keys))


def _digest(scope: ThrottleScope, subject: str) -> str:
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, f"{scope.value}\0{subject}".encode(), hashlib.sha256).hexdigest()


def account_key(username: str, user: User | None = None) -> ThrottleKey:
    subject = username.strip().lower()
    return ThrottleKey(ThrottleScope.ACCOUNT, _digest(ThrottleScope.ACCOUNT, subject), _id(user))


def device_key(device: KnownDevice, user: User) -> ThrottleKey:
    subject = f"{device.device_id}\0{user.id}"
    return ThrottleKey(ThrottleScope.DEVICE, _digest(ThrottleScope.DEVICE, subject), user.id)


def address_key(address: str) -> ThrottleKey:
    return ThrottleKey(ThrottleScope.ADDRESS, _digest(ThrottleScope.ADDRESS, address))


def reauth_key(user: User) -> ThrottleKey:
    return ThrottleKey(ThrottleScope.REAUTH, _digest(ThrottleScope.REAUTH, str(user.id)), user.id)


def _id(user: User | None) -> int | None:
    return user.id if user is not None else None


def keys_for_attempt(
    username: str, user: User | None, address: str, device: KnownDevice | None
) -> AttemptKeys:
    account = account_key(username, user)
    identity = account
    if device is not None and user is not None and device.knows(user):
        identity = device_key(device, user)
    return AttemptKeys(
        address=address_key(address),
        account=account,
        identity=identity,
        reauth=reauth_key(user) if user is not None else None,
    )


def _threshold(scope: ThrottleScope) -> int:
    config = current_app.config
    if scope == ThrottleScope.ADDRESS:
        return int(config["LOCKOUT_ADDRESS_THRESHOLD"])
    return int(config["LOCKOUT_THRESHOLD"])


def wait_after(failures: int, scope: ThrottleScope) -> timedelta | None:
    """How long attempts wait after this many failures: nothing below the threshold, then a
    doubling wait up to the longest."""
    beyond = failures - _threshold(scope)
    if beyond < 0:
        return None
    config = current_app.config
    longest = timedelta(minutes=int(config["LOCKOUT_MINUTES"]))
    first = timedelta(seconds=int(config["LOCKOUT_FIRST_WAIT_SECONDS"]))
    if beyond >= 32:  # far past the longest wait; and no huge power of two
        return longest
    return min(first * 2**beyond, longest)


def holding(keys: Sequence[ThrottleKey], now: datetime) -> ThrottleKey | None:
    """The first of the keys that holds attempts now, if any."""
    held = set(
        db.session.scalars(
            sa.select(SignInThrottle.key).where(
                SignInThrottle.key.in_([key.digest for key in keys]),
                SignInThrottle.held_until > now,
            )
        )
    )
    return next((key for key in keys if key.digest in held), None)


def _insert() -> type[sa.Insert]:
    dialect = db.session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert  # type: ignore[return-value]


def record_failure(key: ThrottleKey, now: datetime) -> Failure:
    """Count one failure on the key, and hold it when the count calls for a wait.

    One upsert, so parallel failures are each counted (PostgreSQL locks the row until the
    caller's commit; SQLite's writers queue for the database).
    """
    forget = timedelta(minutes=int(current_app.config["LOCKOUT_FORGET_MINUTES"]))
    table = SignInThrottle.__table__
    upsert = _insert()(SignInThrottle).values(
        key=key.digest, scope=key.scope, user_id=key.user_id, failures=1, last_failed_at=now
    )
    upsert = upsert.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={
            "failures": sa.case(
                (table.c.last_failed_at < now - forget, 1), else_=table.c.failures + 1
            ),
            "last_failed_at": now,
            "user_id": sa.func.coalesce(table.c.user_id, key.user_id),
        },
    ).returning(table.c.failures)
    failures = db.session.execute(upsert).scalar_one()
    wait = wait_after(failures, key.scope)
    held_until = now + wait if wait is not None else None
    if held_until is not None:
        db.session.execute(
            sa.update(SignInThrottle)
            .where(SignInThrottle.key == key.digest)
            .values(held_until=held_until)
        )
    # Counts that no longer count go: the table holds the last hour's failures, not a history.
    db.session.execute(
        sa.delete(SignInThrottle).where(
            SignInThrottle.last_failed_at < now - forget,
            sa.or_(SignInThrottle.held_until.is_(None), SignInThrottle.held_until < now),
        )
    )
    return Failure(key, failures, held_until)


def forget(keys: Iterable[ThrottleKey]) -> dict[ThrottleScope, int]:
    """Delete the keys' counts; returns the failures each scope had."""
    rows = db.session.execute(
        sa.delete(SignInThrottle)
        .where(SignInThrottle.key.in_([key.digest for key in keys]))
        .returning(SignInThrottle.scope, SignInThrottle.failures)
    ).all()
    counts: dict[ThrottleScope, int] = {}
    for scope, failures in rows:
        counts[ThrottleScope(scope)] = counts.get(ThrottleScope(scope), 0) + failures
    return counts


def _of_user(user: User) -> sa.ColumnElement[bool]:
    return sa.or_(
        SignInThrottle.user_id == user.id,
        SignInThrottle.key == account_key(user.username).digest,
    )


def counts_of(user: User) -> list[SignInThrottle]:
    """What is counted against the account: its username's, its devices', its re-entries'."""
    return list(
        db.session.scalars(
            sa.select(SignInThrottle).where(_of_user(user)).order_by(SignInThrottle.id)
        )
    )


def clear_counts_of(user: User) -> list[dict[str, object]]:
    """Delete what is counted against the account; returns what was deleted."""
    rows = db.session.execute(
        sa.delete(SignInThrottle)
        .where(_of_user(user))
        .returning(SignInThrottle.scope, SignInThrottle.failures, SignInThrottle.held_until)
    ).all()
    return [
        {
            "scope": ThrottleScope(scope).value,
            "failures": failures,
            "held_until": held_until.isoformat() if held_until else None,
        }
        for scope, failures, held_until in sorted(rows, key=lambda row: str(row[0]))
    ]


def user_ids_held(now: datetime) -> set[int]:
    """The accounts with a hold on any of their keys (for the staff list)."""
    return set(
        db.session.scalars(
            sa.select(SignInThrottle.user_id).where(
                SignInThrottle.held_until > now, SignInThrottle.user_id.is_not(None)
            )
        )
    )
