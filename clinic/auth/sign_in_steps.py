"""A sign-in in the browser's session: the step between a right password and the second factor,
and the end of every sign-in (the sign-in page's, the second step's).

Between the two steps nobody is signed in: Flask-Login's user stays anonymous, so every page but
the second step's own turns the person away as it turns away anyone signed out. The session holds
only which account is half-way (by its session token, so that a password reset, a deactivation or
a second-factor reset meanwhile ends the step), when the password was right (the step lapses
after SECOND_FACTOR_STEP_MINUTES) and, while she sets up her app, the new secret sealed
(clinic/auth/second_factor.py): the cookie is signed, not encrypted.
"""

from __future__ import annotations

import time
from typing import Any

from flask import current_app, flash, redirect, request, session, url_for
from flask_login import login_user
from werkzeug.wrappers import Response

from clinic.auth import second_factor
from clinic.auth.access import safe_next
from clinic.auth.known_devices import remember_device
from clinic.auth.models import USER_BY_SESSION_TOKEN, User
from clinic.auth.second_factor import SecondStep
from clinic.auth.session_guard import start_session_clock
from clinic.auth.throttle import KnownDevice
from clinic.extensions import db

PENDING = "sign_in_pending"
STEP_ENDPOINTS = {SecondStep.CODE: "second_factor.code", SecondStep.ENROL: "second_factor.enrol"}


def begin_second_step(user: User, step: SecondStep) -> Response:
    """After the right password: a fresh session that names the account half-way, and on to the
    step's page (the page asked for before sign-in goes along)."""
    session.clear()
    session[PENDING] = {"token": user.session_token, "step": step.value, "at": int(time.time())}
    return redirect(url_for(STEP_ENDPOINTS[step], next=safe_next(request.args.get("next"))))


def _pending() -> dict[str, Any] | None:
    data = session.get(PENDING)
    if not isinstance(data, dict) or not isinstance(data.get("at"), int):
        return None
    lapse = int(current_app.config["SECOND_FACTOR_STEP_MINUTES"]) * 60
    if time.time() - data["at"] > lapse:
        return None
    return data


def pending_user(step: SecondStep) -> User | None:
    """The account half-way through a sign-in at this step, while the step lasts."""
    data = _pending()
    if data is None or data.get("step") != step.value or not isinstance(data.get("token"), str):
        return None
    return db.session.scalar(USER_BY_SESSION_TOKEN, {"session_token": data["token"]})


def enrolment_secret() -> str:
    """The secret this enrolment shows: made at its first page, the same on every reload."""
    data = _pending() or {}
    sealed = data.get("secret")
    secret = second_factor.unseal(sealed) if isinstance(sealed, str) else None
    if secret is None:
        secret = second_factor.new_secret()
        session[PENDING] = {**data, "secret": second_factor.seal(secret)}
    return secret


def end_second_step() -> None:
    session.pop(PENDING, None)


def start_signed_in_session(user: User, failures_elsewhere: int) -> str:
    """The end of a sign-in: a fresh session (no fixation), signed in, its clock started.
    Returns where the person goes next."""
    session.clear()
    login_user(user)
    start_session_clock()
    if failures_elsewhere:
        flash(
            f"{failures_elsewhere} failed sign-in attempt(s) with your username were "
            "made recently from other devices. If they were not yours, tell an admin.",
            "warning",
        )
    if user.must_change_password:
        flash("Welcome. Choose your own password before you continue.", "warning")
        return url_for("auth.change_password")
    return safe_next(request.args.get("next")) or url_for("main.index")


def signed_in(user: User, device: KnownDevice | None, failures_elsewhere: int) -> Response:
    """The last step of a sign-in: a fresh session, the device remembered, the next page."""
    response = redirect(start_signed_in_session(user, failures_elsewhere))
    remember_device(response, device, user)
    return response
