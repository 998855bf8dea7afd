"""The second factor in tests: the secret every test account set up with one shares, and a code
the app accepts for it now.

The app accepts each time step's code once, and the steps before and after the server's (RFC 6238
§5.2, clinic/auth/second_factor.py). A test signs in and signs a session within a second, where a
person spreads them over minutes: when a test has spent the next step's code too, `fresh_code`
sets the account's last spent step back, the one shortcut it takes. The tests of the rule itself
use their own codes (tests/test_second_factor.py).
"""

from __future__ import annotations

import time

import pyotp
import sqlalchemy as sa
from flask.testing import FlaskClient

from clinic.auth import second_factor
from clinic.auth.models import User
from clinic.extensions import db

TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def code_at(step: int, secret: str = TOTP_SECRET) -> str:
    return pyotp.TOTP(secret).generate_otp(step)


def current_step() -> int:
    return pyotp.TOTP(TOTP_SECRET).timecode(time.time())


def enrol(user: User, secret: str = TOTP_SECRET) -> list[str]:
    """Set the user's second factor up through the service (audited); the recovery codes."""
    codes = second_factor.enrol(user, secret, pyotp.TOTP(secret).now())
    assert codes is not None
    db.session.commit()
    return codes


def fresh_code(user: User, secret: str = TOTP_SECRET) -> str:
    """A code of the user's authenticator that the app has not seen spent yet."""
    now = current_step()
    last = db.session.scalar(sa.select(User.second_factor_last_step).where(User.id == user.id))
    step = now if last is None or last < now else last + 1
    if step > now + second_factor.DRIFT_STEPS:
        db.session.execute(
            sa.update(User).where(User.id == user.id).values(second_factor_last_step=now - 2)
        )
        db.session.commit()
        step = now
    return code_at(step, secret)


def signed_in_user(client: FlaskClient) -> User | None:
    """The account the test client is signed in to (its cookie's session token)."""
    with client.session_transaction() as cookie:
        token = cookie.get("_user_id")
    if token is None:
        return None
    return db.session.scalar(sa.select(User).where(User.session_token == token))


def code_of_client(client: FlaskClient) -> str:
    """A fresh code of the signed-in account's authenticator ('' without one)."""
    user = signed_in_user(client)
    return fresh_code(user) if user is not None and user.has_second_factor else ""
