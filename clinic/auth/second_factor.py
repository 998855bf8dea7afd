"""The second factor: a one-time code from an authenticator app (TOTP, RFC 6238), and ten
recovery codes for a lost phone. DESIGN.md §6.

- Who is asked: whoever has one. Who must set one up: clinicians and admins, nurses when
  SECOND_FACTOR_FOR_NURSES is set, and anyone whose second factor an admin reset.
- Where: at sign-in after the password (clinic/auth/services.py, the views in
  second_factor_views.py), at the lock screen's sign-in, and with the password at signing a
  session (clinic/sessions/services/signoff.py).
- Enrolment: the secret shown as text and as a QR code drawn here as SVG (segno: nothing leaves
  the server), confirmed with a code from the app; then ten recovery codes, shown once.
- A code is accepted within one step (30 s) of the server's clock either way, and once: the step
  of the last code accepted is kept and no code of that step or an earlier one passes again
  (RFC 6238 §5.2), so a code read over a shoulder is spent once typed.
- The secret is stored encrypted (Fernet) under a key derived from AUDIT_KEY, which is kept apart
  from the database: a copy of the database alone yields no one's codes. It is shown once, at
  enrolment, and never logged or audited. Recovery codes are stored as salted hashes.
- An admin's password reset leaves it in place (so an admin cannot sign in as a clinician); an
  admin's reset of the second factor is audited, ends the person's sessions and is told to her at
  her next sign-in, where she sets up a new one.

Callers commit; every change is audited in the caller's transaction.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

import pyotp
import segno
import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

from clinic.audit.services import record_audit_event
from clinic.auth.models import RecoveryCode, Role, User
from clinic.database import utcnow
from clinic.extensions import db

# A code of the step before or after the server's is accepted too: a phone's clock that runs a
# little fast or slow, and the seconds it takes to type the code.
DRIFT_STEPS = 1
CODE_DIGITS = 6
RECOVERY_CODE_COUNT = 10
# 16 characters of base32: 80 random bits, typed in four groups of four.
RECOVERY_CODE_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
RECOVERY_CODE_LENGTH = 16
RECOVERY_CODE_GROUP = 4
KEY_INFO = b"clinic.second-factor.secret"


class SecondStep(enum.StrEnum):
    """What a sign-in whose password was right still asks."""

    CODE = "code"  # the code of the authenticator set up before (or a recovery code)
    ENROL = "enrol"  # setting one up, then its first code


class CodeKind(enum.StrEnum):
    AUTHENTICATOR = "authenticator"
    RECOVERY = "recovery code"


@dataclass(frozen=True)
class CodeCheck:
    """A code checked: which kind passed (None: refused), whether it was right but already
    spent, and how many recovery codes are left after one was used."""

    kind: CodeKind | None = None
    spent: bool = False
    recovery_codes_left: int | None = None

    @property
    def accepted(self) -> bool:
        return self.kind is not None


# --- who is asked ------------------------------------------------------------------------------


def is_required(user: User) -> bool:
    """Whether the person must have a second factor to sign in."""
    if user.must_enrol_second_factor or user.role in (Role.CLINICIAN, Role.ADMIN):
        return True
    return user.role == Role.NURSE and bool(current_app.config["SECOND_FACTOR_FOR_NURSES"])


def step_due(user: User) -> SecondStep | None:
    """What a sign-in asks after the right password: the code, an enrolment, or nothing."""
    if user.has_second_factor:
        return SecondStep.CODE
    return SecondStep.ENROL if is_required(user) else None


# --- the secret --------------------------------------------------------------------------------


def new_secret() -> str:
    """A fresh secret: 32 base32 characters, 160 bits (RFC 4226 recommends at least 128)."""
    return pyotp.random_base32()


def shown_secret(secret: str) -> str:
    """The secret as typed into an app by hand: groups of four."""
    return " ".join(secret[n : n + 4] for n in range(0, len(secret), 4))


def provisioning_uri(user: User, secret: str) -> str:
    """The otpauth:// address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(
        name=user.username, issuer_name=current_app.config["SECOND_FACTOR_ISSUER"]
    )


def qr_code_svg(uri: str) -> str:
    """The address as a QR code, an SVG drawn on the server, as a data: URI for an <img>."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=4)


def _fernet() -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=KEY_INFO).derive(
        str(current_app.config["AUDIT_KEY"]).encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret: str) -> str:
    """The secret encrypted, as stored (and as carried in the sign-in's cookie while enrolling)."""
    return _fernet().encrypt(secret.encode()).decode()


def unseal(sealed: str, max_age_seconds: int | None = None) -> str | None:
    """The secret back, or None when it cannot be read (another key, too old, altered)."""
    try:
        return _fernet().decrypt(sealed.encode(), ttl=max_age_seconds).decode()
    except (InvalidToken, ValueError):
        return None


def _is_code(typed: str) -> bool:
    # ASCII digits only: str.isdigit() also takes other scripts' digits, which no app shows and
    # hmac.compare_digest refuses to compare.
    return len(typed) == CODE_DIGITS and typed.isascii() and typed.isdigit()


def _matching_step(secret: str, code: str, now: float) -> int | None:
    """The time step whose code this is, within the drift allowed; None if none."""
    if not _is_code(code):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _typed(code: str) -> str:
    """A code as typed, without the spaces and dashes people put in, lower case."""
    return "".join((code or "").split()).replace("-", "").lower()


# --- checking a code ---------------------------------------------------------------------------


def check_code(user: User, code: str, now: float | None = None) -> CodeCheck:
    """Check a code of the authenticator, or a recovery code, and spend it if it passes.

    The step of an accepted code is stored with an UPDATE that requires it to be later than the
    last one, so two requests with the same code (or one replayed) pass once between them. A
    recovery code's use is audited by the caller (record_recovery_code_use).
    """
    if user.second_factor_secret is None:
        return CodeCheck()
    typed = _typed(code)
    if _is_code(typed):
        return _check_authenticator_code(user, typed, time.time() if now is None else now)
    if len(typed) == RECOVERY_CODE_LENGTH and typed.isascii():
        return _check_recovery_code(user, typed)
    return CodeCheck()


def _check_authenticator_code(user: User, code: str, now: float) -> CodeCheck:
    secret = unseal(user.second_factor_secret or "")
    if secret is None:
        # Sealed under another AUDIT_KEY: nobody's code can pass. Said once per attempt, by id.
        current_app.logger.warning(
            "the second factor of user %s cannot be read with this AUDIT_KEY", user.id
        )
        return CodeCheck()
    step = _matching_step(secret, code, now)
    if step is None:
        return CodeCheck()
    spent = db.session.execute(
        sa.update(User)
        .where(
            User.id == user.id,
            sa.or_(User.second_factor_last_step.is_(None), User.second_factor_last_step < step),
        )
        .values(second_factor_last_step=step)
    )
    if spent.rowcount != 1:
        return CodeCheck(spent=True)
    return CodeCheck(CodeKind.AUTHENTICATOR)


def _digest(salt: str, code: str) -> str:
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


def _check_recovery_code(user: User, code: str) -> CodeCheck:
    unused = db.session.scalars(
        sa.select(RecoveryCode).where(
            RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
        )
    ).all()
    match = next(
        (row for row in unused if hmac.compare_digest(row.digest, _digest(row.salt, code))), None
    )
    if match is None:
        return CodeCheck()
    used = db.session.execute(
        sa.update(RecoveryCode)
        .where(RecoveryCode.id == match.id, RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow())
    )
    if used.rowcount != 1:  # used meanwhile by another request
        return CodeCheck(spent=True)
    return CodeCheck(CodeKind.RECOVERY, recovery_codes_left=len(unused) - 1)


def record_recovery_code_use(user: User, check: CodeCheck) -> None:
    """Audit the use of a recovery code, once the caller has taken its other locks: an audit
    event locks the trail's head until the commit, and every writer takes that lock last (a
    signing takes the session's row first, as every chart entry does)."""
    if check.kind != CodeKind.RECOVERY:
        return
    record_audit_event(
        actor_id=user.id,
        action="recovery_code_used",
        entity="user",
        entity_id=user.id,
        changes={"recovery_codes_left": check.recovery_codes_left},
    )


def refusal_message(check: CodeCheck) -> str:
    """What a person is told of a code refused."""
    if check.spent:
        return "This code was used already: wait for the next one your app shows."
    return (
        "The code is not correct: type the 6 digits your authenticator app shows now, or one "
        "of your recovery codes."
    )


def confirms(user: User, code: str) -> CodeCheck:
    """A re-authentication's code (signing, the lock screen): passes for someone who has no
    second factor and needs none; refused for someone who needs one and has none yet."""
    if not user.has_second_factor:
        return CodeCheck() if is_required(user) else CodeCheck(CodeKind.AUTHENTICATOR)
    return check_code(user, code)


def recovery_codes_left(user: User) -> int:
    return db.session.scalar(
        sa.select(sa.func.count(RecoveryCode.id)).where(
            RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
        )
    )


# --- enrolment and reset -----------------------------------------------------------------------


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(RECOVERY_CODE_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
    return "-".join(
        raw[n : n + RECOVERY_CODE_GROUP] for n in range(0, len(raw), RECOVERY_CODE_GROUP)
    )


def _remove_recovery_codes(user: User) -> int:
    removed = db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    return removed.rowcount


def enrol(user: User, secret: str, code: str, now: float | None = None) -> list[str] | None:
    """Set up the authenticator whose first code this is; returns the new recovery codes (to be
    shown once), or None when the code is not the secret's. Earlier codes go."""
    step = _matching_step(secret, _typed(code), time.time() if now is None else now)
    if step is None:
        return None
    replaced = user.has_second_factor
    user.second_factor_secret = seal(secret)
    user.second_factor_enrolled_at = utcnow()
    user.second_factor_last_step = step
    user.second_factor_reset_at = None
    user.must_enrol_second_factor = False
    _remove_recovery_codes(user)
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    for shown in codes:
        salt = secrets.token_hex(16)
        db.session.add(
            RecoveryCode(user_id=user.id, salt=salt, digest=_digest(salt, _typed(shown)))
        )
    record_audit_event(
        actor_id=user.id,
        action="second_factor_enrolled",
        entity="user",
        entity_id=user.id,
        changes={"replaced": replaced, "recovery_codes": RECOVERY_CODE_COUNT},
    )
    return codes


def reset(actor: User, user: User) -> None:
    """An admin's reset (a lost phone): the secret and the recovery codes go, the person's
    sessions end, and her next sign-in tells her and has her set up a new one."""
    had = user.has_second_factor
    user.second_factor_secret = None
    user.second_factor_enrolled_at = None
    user.second_factor_last_step = None
    user.second_factor_reset_at = utcnow()
    user.must_enrol_second_factor = True
    removed = _remove_recovery_codes(user)
    user.rotate_session_token()
    record_audit_event(
        actor_id=actor.id,
        action="second_factor_reset",
        entity="user",
        entity_id=user.id,
        changes={
            "had_second_factor": had,
            "recovery_codes_removed": removed,
            "must_enrol_second_factor": True,
        },
    )
