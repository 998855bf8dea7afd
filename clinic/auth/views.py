from flask import (
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import generate_csrf
from werkzeug.wrappers import Response

from clinic.auth import bp
from clinic.auth import services as auth_services
from clinic.auth.access import public, roles_required
from clinic.auth.forms import ChangePasswordForm, LoginForm, LogoutForm, UnlockForm
from clinic.auth.known_devices import read_known_device, remember_device
from clinic.auth.models import Role
from clinic.auth.second_factor import SecondStep, refusal_message
from clinic.auth.session_guard import start_session_clock
from clinic.auth.sign_in_steps import begin_second_step, signed_in
from clinic.extensions import client_address, db, limiter
from clinic.field_errors import show_on_form

ALL_ROLES = tuple(Role)


def login_refused_message() -> str:
    """The one answer to every refused sign-in: it names no account and no state."""
    return (
        "Sign-in failed: check the username and password. After repeated failures, further "
        f"attempts have to wait, up to {current_app.config['LOCKOUT_MINUTES']} minutes; a "
        "device you signed in on before is not held up by someone else's attempts."
    )


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit(_login_limit, methods=["POST"])
def login() -> Response | str:
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    if form.validate_on_submit():
        device = read_known_device()
        result = auth_services.authenticate(
            auth_services.SignInAttempt(
                username=form.username.data or "",
                password=form.password.data or "",
                address=client_address(),
                device=device,
            )
        )
        db.session.commit()
        if result.user is not None and result.second_step is not None:
            return begin_second_step(result.user, result.second_step)
        if result.user is not None:
            return signed_in(result.user, device, result.failures_elsewhere)
        form.password.errors.append(login_refused_message())
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@roles_required(*ALL_ROLES)
def logout() -> Response:
    form = LogoutForm()
    if form.validate_on_submit():
        auth_services.logout(current_user._get_current_object())
        db.session.commit()
        logout_user()
        session.clear()
        flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@roles_required(*ALL_ROLES)
def change_password() -> Response | str:
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        try:
            auth_services.change_password(
                user, form.current_password.data or "", form.new_password.data or ""
            )
        except auth_services.PasswordChangeError as error:
            show_on_form(form, error)
            if error.field == "current_password":
                db.session.rollback()
                auth_services.record_failed_reauthentication(user, "password change")
                db.session.commit()
        else:
            db.session.commit()
            # The token rotated: sign in again on this device with the new one, keep the clock.
            login_user(user)
            flash("Your password is changed.", "success")
            return redirect(url_for("main.index"))
    return render_template("auth/change_password.html", form=form)


@bp.route("/session/ping", methods=["POST"])
@roles_required(*ALL_ROLES)
def ping() -> tuple[str, int]:
    """Keeps a session alive while the person is typing (see static/js/session.js)."""
    return "", 204


@bp.route("/session/unlock", methods=["GET", "POST"])
@public
@limiter.limit(_login_limit, methods=["POST"])
def unlock() -> tuple[dict[str, str], int] | Response:
    """The sign-in of a page locked in place at the idle limit (static/js/session.js).

    The page keeps what was typed, so this answers with a fresh CSRF token for its forms rather
    than a new page; GET gives the token to send the sign-in with (the page's went with the
    ended session). The same checks as the sign-in page (held attempts, audit, a fresh session).
    Whoever has a second factor types its code too (the lock screen shows the field to them).
    """
    if request.method == "GET":
        return {"csrf_token": generate_csrf()}, 200
    form = UnlockForm()
    if not form.validate_on_submit():
        return {"error": "Enter your password."}, 400
    device = read_known_device()
    result = auth_services.authenticate(
        auth_services.SignInAttempt(
            username=form.username.data or "",
            password=form.password.data or "",
            address=client_address(),
            device=device,
        )
    )
    if result.user is not None and result.second_step == SecondStep.CODE:
        result = auth_services.confirm_second_factor(
            auth_services.SecondStepAttempt(
                result.user, form.code.data or "", client_address(), device
            )
        )
    elif result.user is not None and result.second_step == SecondStep.ENROL:
        db.session.commit()
        return {"error": "Sign in on the sign-in page to set up your second factor."}, 401
    db.session.commit()
    if result.user is None and result.code_check is not None:
        return {"error": refusal_message(result.code_check)}, 401
    if result.user is None:
        return {"error": login_refused_message()}, 401
    session.clear()  # a fresh session for a fresh sign-in, as on the sign-in page
    login_user(result.user)
    start_session_clock()
    # The token this request read is cached for the request; the new session needs its own.
    g.pop(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)
    response = jsonify(csrf_token=generate_csrf())
    remember_device(response, device, result.user)
    return response
