"""The known-device cookie: which accounts signed in on this browser before.

Set at each successful sign-in and kept for KNOWN_DEVICE_DAYS, it lets the right person sign in
on her own device while a stranger's wrong passwords hold her username everywhere else
(clinic/auth/throttle.py). It is signed with SECRET_KEY, so it cannot be made up, and holds a
random device id and account ids only; it proves nothing by itself (the password is still
checked) and does not exempt from the per-address limit. Failures on a known device count on
that device's own key, so a stolen tablet gets no more guesses than a stranger.

A shared tablet at the chairs knows the last few accounts that signed in on it.
"""

from __future__ import annotations

import secrets

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response

from clinic.auth.models import User
from clinic.auth.throttle import KnownDevice

COOKIE_NAME = "clinic_known_device"
SALT = "clinic.known-device"
# The accounts a device remembers: a shared tablet serves a shift's staff.
ACCOUNTS_KEPT = 20


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(str(current_app.config["SECRET_KEY"]), salt=SALT)


def _max_age() -> int:
    return int(current_app.config["KNOWN_DEVICE_DAYS"]) * 24 * 3600


def read_known_device() -> KnownDevice | None:
    """The device as its cookie describes it, or None without a valid, unexpired cookie."""
    raw = request.cookies.get(COOKIE_NAME)
    if not raw:
        return None
    try:
        data = _serializer().loads(raw, max_age=_max_age())
    except BadSignature:  # includes SignatureExpired
        return None
    if not isinstance(data, dict):
        return None
    device_id, user_ids = data.get("d"), data.get("u")
    if not isinstance(device_id, str) or not isinstance(user_ids, list):
        return None
    return KnownDevice(device_id, tuple(uid for uid in user_ids if isinstance(uid, int)))


def remember_device(response: Response, device: KnownDevice | None, user: User) -> None:
    """After a successful sign-in: the device knows this account (again), from now on."""
    device_id = device.device_id if device else secrets.token_urlsafe(16)
    earlier = [uid for uid in (device.user_ids if device else ()) if uid != user.id]
    user_ids = [*earlier, user.id][-ACCOUNTS_KEPT:]
    response.set_cookie(
        COOKIE_NAME,
        _serializer().dumps({"d": device_id, "u": user_ids}),
        max_age=_max_age(),
        secure=bool(current_app.config["SESSION_COOKIE_SECURE"]),
        httponly=True,
        samesite="Lax",
    )
