"""Staff accounts. Never deleted: deactivated."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinic.database import UTCDateTime, utcnow
from clinic.extensions import db


class Role(enum.StrEnum):
    NURSE = "nurse"
    CLINICIAN = "clinician"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return self.value.capitalize()


# Who sees and charts clinical records; admins run accounts and read the trail, nothing clinical.
CLINICAL_ROLES = (Role.NURSE, Role.CLINICIAN)


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


class User(db.Model):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64))
    full_name: Mapped[str] = mapped_column(sa.String(120))
    credentials: Mapped[str] = mapped_column(sa.String(40), default="")
    role: Mapped[Role] = mapped_column(
        sa.Enum(Role, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])
    )
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    active: Mapped[bool] = mapped_column(default=True)
    must_change_password: Mapped[bool] = mapped_column(default=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Flask-Login's alternative id: rotating it invalidates every cookie issued before.
    session_token: Mapped[str] = mapped_column(
        sa.String(64), unique=True, default=new_session_token
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The second factor (clinic/auth/second_factor.py): the authenticator's secret, encrypted;
    # when it was set up; the time step of the last code accepted (a code works once); when an
    # admin last reset it (told at the next sign-in); and whether a new one must be set up at the
    # next sign-in whatever the role asks (after an admin's reset, or since migration 0012).
    second_factor_secret: Mapped[str | None] = mapped_column(sa.String(255))
    second_factor_enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    second_factor_last_step: Mapped[int | None] = mapped_column(sa.BigInteger())
    second_factor_reset_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    must_enrol_second_factor: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return self.session_token

    def rotate_session_token(self) -> None:
        self.session_token = new_session_token()

    @property
    def has_second_factor(self) -> bool:
        return self.second_factor_secret is not None

    @property
    def display_name(self) -> str:
        return f"{self.full_name}, {self.credentials}" if self.credentials else self.full_name

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


# Usernames are unique whatever their case: "JSmith" and "jsmith" are one person.
sa.Index("uq_user_account_username_lower", sa.func.lower(User.username), unique=True)


class PasswordHistory(db.Model):
    """The hashes of a person's latest passwords, the current one included, so that none of them
    comes back (PASSWORD_HISTORY of them are kept; older ones are deleted, as hashes of old
    passwords are worth nothing to the clinic and something to whoever copies the database)."""

    __tablename__ = "password_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship()


class RecoveryCode(db.Model):
    """One of the codes that stand in for the authenticator once each (a lost phone).

    Only a salted SHA-256 of each is kept: a code holds 80 random bits, so no hash speed makes
    guessing one from its hash worth trying, and checking the ten of an account costs nothing.
    """

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    salt: Mapped[str] = mapped_column(sa.String(32))
    digest: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ThrottleScope(enum.StrEnum):
    """What a count of failed sign-ins is kept for (clinic/auth/throttle.py)."""

    ACCOUNT = "account"  # a username, typed on a device that has not signed it in before
    DEVICE = "device"  # a username, on a device where it signed in before
    ADDRESS = "address"  # a client address, whatever the username
    REAUTH = "reauth"  # a signed-in person re-entering their password (signing, changing it)


class SignInThrottle(db.Model):
    """Failed sign-ins counted per key, and until when further attempts with it are held.

    The key is an HMAC of the scope and what it counts (a username as typed, an address, a
    device), so a username typed wrong, or a password typed into the username field, is not
    stored. Rows are deleted once they no longer count.
    """

    __tablename__ = "sign_in_throttle"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(64), unique=True)
    scope: Mapped[ThrottleScope] = mapped_column(
        sa.Enum(
            ThrottleScope,
            native_enum=False,
            length=16,
            values_callable=lambda e: [m.value for m in e],
        )
    )
    # The account concerned, where one exists (an unknown username has none).
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failed_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    held_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


# Run on every request (Flask-Login's user loader): built once, not at each request. A
# deactivated account loads as nobody, so its open sessions end at their next request.
USER_BY_SESSION_TOKEN = sa.select(User).where(
    User.session_token == sa.bindparam("session_token"), User.active.is_(True)
)
