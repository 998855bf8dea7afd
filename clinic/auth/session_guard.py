"""Idle and absolute limits of a signed-in session, checked on the server at every request.

The timestamps live in the signed cookie, so a cookie replayed later carries its old times and is
refused; the session token (see User.session_token) covers logout and password changes.
"""

from __future__ import annotations

import time

from flask import current_app, flash, redirect, request, session, url_for
from flask_login import current_user, logout_user
from werkzeug.wrappers import Response

from clinic.auth.access import page_to_return_to

LOGIN_AT = "login_at"
SEEN_AT = "seen_at"


def start_session_clock() -> None:
    now = int(time.time())
    session[LOGIN_AT] = now
    session[SEEN_AT] = now


def check_session_clock() -> Response | None:
    if not current_user.is_authenticated or request.endpoint in ("static", "bootstrap.static"):
        return None
    now = int(time.time())
    idle_limit = current_app.config["IDLE_TIMEOUT_MINUTES"] * 60
    absolute_limit = current_app.config["ABSOLUTE_SESSION_HOURS"] * 3600
    login_at, seen_at = session.get(LOGIN_AT), session.get(SEEN_AT)
    if login_at is None or seen_at is None:
        reason = "Please sign in."
    elif now - seen_at > idle_limit:
        reason = "You were signed out after a period of inactivity. Please sign in again."
    elif now - login_at > absolute_limit:
        reason = "Your session reached its time limit. Please sign in again."
    else:
        session[SEEN_AT] = now
        return None
    # Where the person was goes with them to the sign-in page, and back after it.
    next_page = page_to_return_to()
    logout_user()
    session.clear()
    flash(reason, "info")
    return redirect(url_for("auth.login", next=next_page))
