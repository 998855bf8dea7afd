"""Signing a session (the clinician's password and code again), and addenda after it."""

from __future__ import annotations

from flask_login import current_user
from werkzeug.wrappers import Response

from clinic.auth.access import roles_required
from clinic.auth.models import CLINICAL_ROLES, Role
from clinic.extensions import db
from clinic.field_errors import show_on_form
from clinic.sessions.blueprint import bp
from clinic.sessions.chart import Confirmation, ShownAgain, chart_again, chart_refusing, saved
from clinic.sessions.forms.signoff import AddendumForm, SignForm
from clinic.sessions.guards import SessionLockedError
from clinic.sessions.loading import get_session_or_404
from clinic.sessions.services.signoff import (
    SignOffRefusedError,
    WrongCodeError,
    WrongPasswordError,
    add_addendum,
    record_failed_signature,
    sign_session,
)
from clinic.sessions.views.posting import save_or_show_again

ALREADY_SIGNED = "This session is already signed."


@bp.route("/<int:session_id>/sign", methods=["POST"])
@roles_required(Role.CLINICIAN)
def sign(session_id: int) -> Response | tuple[str, int]:
    infusion_session = get_session_or_404(session_id)
    patient_id = infusion_session.patient_id
    form = SignForm()
    if infusion_session.is_signed:
        return chart_refusing(session_id, ALREADY_SIGNED)
    if not form.validate_on_submit():
        return chart_again(session_id, ShownAgain(sign_form=form))
    try:
        sign_session(current_user, session_id, form.password.data or "", form.code.data or "")
    except SessionLockedError:
        return chart_refusing(session_id, ALREADY_SIGNED)
    except WrongPasswordError as error:
        db.session.rollback()
        # The failed attempt is kept, like a failed login, even though nothing else is.
        record_failed_signature(current_user, session_id, patient_id)
        db.session.commit()
        show_on_form(form, error)
        return chart_again(session_id, ShownAgain(sign_form=form))
    except WrongCodeError as error:
        db.session.rollback()
        record_failed_signature(current_user, session_id, patient_id, "bad code")
        db.session.commit()
        show_on_form(form, error)
        return chart_again(session_id, ShownAgain(sign_form=form))
    except SignOffRefusedError as error:
        return chart_again(session_id, ShownAgain(sign_form=form, sign_problems=error.missing))
    db.session.commit()
    message = "Session signed and locked. Later corrections go in an addendum."
    return saved(session_id, Confirmation("sign-off", message), "sign-off")


@bp.route("/<int:session_id>/addenda", methods=["POST"], endpoint="add_addendum")
@roles_required(*CLINICAL_ROLES)
def add_addendum_to_session(session_id: int) -> Response | tuple[str, int]:
    get_session_or_404(session_id)
    form = AddendumForm()

    def write() -> Confirmation:
        stored = add_addendum(
            current_user,
            session_id,
            text=form.text.data or "",
            reason=form.reason.data or "",
            submission_key=form.submission(),
        )
        return Confirmation("addenda", "Addendum added.", f"addendum-{stored.entry.id}")

    return save_or_show_again(
        session_id,
        form,
        write,
        shown_again=ShownAgain(addendum_form=form),
        anchor="addenda",
        takes_signed=True,
    )
