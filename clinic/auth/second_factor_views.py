"""The second step of a sign-in: the second factor's code, or setting one up (enrolment).

Both pages serve only a sign-in whose password was right a moment ago in this browser
(clinic/auth/sign_in_steps.py); anyone else is sent to the sign-in page. The rules are in
clinic/auth/services.py and clinic/auth/second_factor.py.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from werkzeug.wrappers import Response

from clinic.auth import second_factor
from clinic.auth import services as auth_services
from clinic.auth.access import public, safe_next
from clinic.auth.known_devices import read_known_device, remember_device
from clinic.auth.models import User
from clinic.auth.second_factor import CodeKind, SecondStep
from clinic.auth.second_factor_forms import EnrolForm, SecondFactorCodeForm
from clinic.auth.sign_in_steps import (
    end_second_step,
    enrolment_secret,
    pending_user,
    signed_in,
    start_signed_in_session,
)
from clinic.auth.views import login_refused_message
from clinic.extensions import client_address, db, limiter

bp = Blueprint("second_factor", __name__)

FEW_RECOVERY_CODES = 3


def _sign_in_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _back_to_sign_in(message: str, category: str = "info") -> Response:
    end_second_step()
    flash(message, category)
    return redirect(url_for("auth.login", next=safe_next(request.args.get("next"))))


def _not_half_way() -> Response:
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    return _back_to_sign_in("Sign in with your username and password.")


def _attempt(user: User, code: str) -> auth_services.SecondStepAttempt:
    return auth_services.SecondStepAttempt(user, code, client_address(), read_known_device())


@bp.route("/login/code", methods=["GET", "POST"])
@public
@limiter.limit(_sign_in_limit, methods=["POST"])
def code() -> Response | tuple[str, int] | str:
    user = pending_user(SecondStep.CODE)
    if user is None:
        return _not_half_way()
    form = SecondFactorCodeForm()
    if form.validate_on_submit():
        attempt = _attempt(user, form.code.data or "")
        result = auth_services.confirm_second_factor(attempt)
        db.session.commit()
        if result.held:
            return _back_to_sign_in(login_refused_message(), "danger")
        if result.user is None:
            refused = result.code_check or second_factor.CodeCheck()
            form.code.errors.append(second_factor.refusal_message(refused))
        else:
            response = signed_in(result.user, attempt.device, result.failures_elsewhere)
            _tell_recovery_codes_left(result.code_check)
            return response
    page = render_template("second_factor/code.html", form=form, user=user)
    return (page, 422) if form.errors else page


def _tell_recovery_codes_left(check: second_factor.CodeCheck | None) -> None:
    if check is None or check.kind != CodeKind.RECOVERY:
        return
    left = check.recovery_codes_left or 0
    flash(
        f"You signed in with a recovery code; {left} left, each good once. If your phone is "
        "lost, ask an admin to reset your second factor and set up your app again.",
        "warning" if left <= FEW_RECOVERY_CODES else "info",
    )


@bp.route("/login/second-factor", methods=["GET", "POST"])
@public
@limiter.limit(_sign_in_limit, methods=["POST"])
def enrol() -> Response | tuple[str, int] | str:
    user = pending_user(SecondStep.ENROL)
    if user is None:
        return _not_half_way()
    secret = enrolment_secret()
    form = EnrolForm()
    if form.validate_on_submit():
        attempt = _attempt(user, form.code.data or "")
        result, codes = auth_services.enrol_second_factor(attempt, secret)
        db.session.commit()
        if result.held:
            return _back_to_sign_in(login_refused_message(), "danger")
        if result.user is not None and codes is not None:
            # Shown in answer to the post, once: the codes are kept only as hashes.
            next_page = start_signed_in_session(result.user, result.failures_elsewhere)
            response = make_response(
                render_template(
                    "second_factor/recovery_codes.html", codes=codes, next_page=next_page
                )
            )
            remember_device(response, attempt.device, result.user)
            return response
        form.code.errors.append(
            "The code does not match: check that the app shows the account you added from this "
            "page, and type the 6 digits it shows now."
        )
    page = render_template(
        "second_factor/enrol.html",
        form=form,
        user=user,
        secret=second_factor.shown_secret(secret),
        qr_code=second_factor.qr_code_svg(second_factor.provisioning_uri(user, secret)),
        issuer=current_app.config["SECOND_FACTOR_ISSUER"],
    )
    return (page, 422) if form.errors else page
