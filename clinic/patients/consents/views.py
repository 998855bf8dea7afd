"""Consent pages: the patient's consents, recording one, withdrawing one. Thin: parse the form,
call one service, commit once, redirect (Post/Redirect/Get)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from clinic.auth.access import roles_required
from clinic.auth.models import CLINICAL_ROLES
from clinic.extensions import db
from clinic.field_errors import show_on_form
from clinic.patients.consents import bp
from clinic.patients.consents import services as consent_services
from clinic.patients.consents.forms import ConsentForm, WithdrawConsentForm
from clinic.patients.models import Patient
from clinic.patients.services import record_patient_viewed
from clinic.submissions import ReusedFormError


@bp.app_template_global()
def consent_summary(patient: Patient) -> list[consent_services.ConsentSummary]:
    """The patient's consents by type, with their state today: for the shared patient header."""
    return consent_services.consent_summary(patient.id)


def _listing(
    patient: Patient,
    withdraw_forms: dict[int, WithdrawConsentForm] | None = None,
) -> str:
    consents = consent_services.consents_of(patient.id)
    today = consent_services.clinic_today()
    forms = withdraw_forms or {}
    page = render_template(
        "consents/index.html",
        patient=patient,
        rows=[(consent, consent.state_on(today)) for consent in consents],
        withdraw_forms={
            consent.id: forms.get(consent.id) or WithdrawConsentForm(formdata=None)
            for consent in consents
            if consent.withdrawn_at is None
        },
    )
    record_patient_viewed(current_user, patient)
    db.session.commit()
    return page


@bp.route("/<int:patient_id>/consents")
@roles_required(*CLINICAL_ROLES)
def index(patient_id: int) -> str:
    return _listing(db.get_or_404(Patient, patient_id))


@bp.route("/<int:patient_id>/consents/new", methods=["GET", "POST"])
@roles_required(*CLINICAL_ROLES)
def new(patient_id: int) -> Response | tuple[str, int] | str:
    patient = db.get_or_404(Patient, patient_id)
    form = ConsentForm()
    form.set_type_choices(consent_services.active_consent_types())
    if request.method == "GET":
        form.signed_on.data = consent_services.clinic_today()
        route = request.args.get("route", "")
        # Reached from a refused session for a route: the type covering it, ready to choose.
        for consent_type in consent_services.active_consent_types():
            if consent_type.route.value == route:
                form.consent_type_id.data = consent_type.id
                break
    if form.validate_on_submit():
        try:
            saved = consent_services.record_consent(
                current_user, patient.id, form.to_details(), form.submission()
            )
        except (consent_services.ConsentError, ReusedFormError) as error:
            db.session.rollback()
            show_on_form(form, error)
        else:
            db.session.commit()
            if saved.created:
                flash("Consent recorded.", "success")
            return redirect(url_for("consents.index", patient_id=patient.id))
    if form.is_submitted():
        form.renew_submission_key()
    page = render_template("consents/new.html", patient=patient, form=form)
    record_patient_viewed(current_user, patient)
    db.session.commit()
    return (page, 422) if form.errors else page


@bp.route("/<int:patient_id>/consents/<int:consent_id>/withdraw", methods=["POST"])
@roles_required(*CLINICAL_ROLES)
def withdraw(patient_id: int, consent_id: int) -> Response | tuple[str, int]:
    patient = db.get_or_404(Patient, patient_id)
    form = WithdrawConsentForm()
    if form.validate_on_submit():
        try:
            consent_services.withdraw_consent(
                current_user, patient.id, consent_id, form.reason.data or ""
            )
        except LookupError:
            db.session.rollback()
            abort(404)
        except consent_services.ConsentWithdrawnAlreadyError as error:
            db.session.rollback()
            flash(error.message, "warning")
            return _listing(patient), 409
        except consent_services.ConsentError as error:
            db.session.rollback()
            show_on_form(form, error)
        else:
            db.session.commit()
            flash("Consent withdrawn.", "success")
            return redirect(url_for("consents.index", patient_id=patient.id))
    return _listing(patient, {consent_id: form}), 422
