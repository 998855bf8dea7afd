"""Patient registry pages. Thin: parse the form, call one service, commit once, redirect."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from clinic.auth.access import roles_required
from clinic.auth.models import CLINICAL_ROLES
from clinic.clinic_time import local_now
from clinic.extensions import db
from clinic.field_errors import show_on_form
from clinic.patients import bp
from clinic.patients import services as patient_services
from clinic.patients.forms import EditPatientForm, RegistrationForm, SearchForm
from clinic.patients.models import Patient
from clinic.request_bounds import page_number
from clinic.submissions import ReusedFormError


@bp.app_template_global()
def patient_age(patient: Patient) -> int:
    """Age today in the clinic's zone; a global so the shared banner macro works anywhere."""
    return patient_services.age_on(patient.date_of_birth, local_now().date())


@bp.route("/", methods=["GET", "POST"])
@roles_required(*CLINICAL_ROLES)
def index() -> tuple[str, int] | str:
    """The patient list, or a search by name or MRN.

    A search is posted and answered at once, and kept nowhere: not in the URL (access logs,
    browser history) and not in the session cookie, which is signed but readable by whoever holds
    it. The pages of a search are posted too, each carrying the search again.
    """
    form = SearchForm()
    if not form.is_submitted():
        return _search_page(form, "", page_number(request.args))
    if not form.validate():
        return _search_page(form, "", 1), 422
    return _search_page(form, (form.q.data or "").strip(), page_number(request.form))


def _search_page(form: SearchForm, query_text: str, page_wanted: int) -> str:
    page = patient_services.search_page(
        query_text,
        page=page_wanted,
        per_page=max(current_app.config["PATIENTS_PAGE_SIZE"], 1),
    )
    return render_template("patients/index.html", form=form, page=page, query_text=query_text)


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*CLINICAL_ROLES)
def new() -> Response | tuple[str, int] | str:
    form = RegistrationForm()
    registered_already: int | None = None
    if form.validate_on_submit():
        key = form.submission()
        try:
            patient = patient_services.registered_earlier(
                current_user, key
            ) or patient_services.register_patient(current_user, form.to_data(), key)
        except ReusedFormError as error:
            db.session.rollback()
            # This page, sent before and changed since: say where the first registration is,
            # so that the person is corrected there rather than registered twice.
            registered = patient_services.registered_with_key(current_user, key)
            if registered is not None:
                registered_already = registered.id
            else:
                show_on_form(form, error)
        except patient_services.PatientError as error:
            db.session.rollback()
            # A double tap's second post can lose the race on the MRN to its first: once that
            # one is committed, the second is the same registration, not a taken MRN.
            earlier = _registered_meanwhile(key)
            if earlier is not None:
                return redirect(url_for("review.history_page", patient_id=earlier.id))
            show_on_form(form, error, "mrn")
        else:
            db.session.commit()
            flash("Patient registered.", "success")  # no patient data in flash messages
            return redirect(url_for("review.history_page", patient_id=patient.id))
    if form.is_submitted():
        form.renew_submission_key()
    page = render_template("patients/new.html", form=form, registered_already=registered_already)
    return (page, 422) if form.errors or registered_already else page


def _registered_meanwhile(key: str | None) -> Patient | None:
    try:
        return patient_services.registered_earlier(current_user, key)
    except ReusedFormError:
        return None


@bp.route("/<int:patient_id>/edit", methods=["GET", "POST"])
@roles_required(*CLINICAL_ROLES)
def edit(patient_id: int) -> Response | tuple[str, int] | str:
    patient = db.get_or_404(Patient, patient_id)
    if request.method == "GET":
        form = EditPatientForm(obj=patient)
        form.set_version(patient.version)
        patient_services.record_patient_viewed(current_user, patient)
        db.session.commit()
        return render_template("patients/edit.html", patient=patient, form=form)

    form = EditPatientForm()
    if not form.validate_on_submit():
        return _edit_page_again(patient, form)
    try:
        changed = patient_services.update_patient(
            current_user, patient, form.to_data(), int(form.version.data)
        )
    except patient_services.StalePatientError:
        db.session.rollback()
        return _render_stale(patient_id, form)
    except patient_services.PatientError as error:
        db.session.rollback()
        show_on_form(form, error, "mrn")
        return _edit_page_again(patient, form)
    db.session.commit()
    flash("Patient details saved." if changed else "No changes to save.", "success")
    return redirect(url_for("review.history_page", patient_id=patient_id))


def _edit_page_again(patient: Patient, form: EditPatientForm) -> tuple[str, int]:
    """A refused edit shows the record again: audited as a view, like the first showing."""
    page = render_template("patients/edit.html", patient=patient, form=form)
    patient_services.record_patient_viewed(current_user, patient)
    db.session.commit()
    return page, 422


def _render_stale(patient_id: int, form: EditPatientForm) -> tuple[str, int]:
    """Keep the user's input, show what the other person saved, and let them save over it
    knowingly: the form now carries the version they have just been shown."""
    patient = db.get_or_404(Patient, patient_id)
    saved = patient_services.snapshot(patient)
    typed = {name: getattr(form, name).data for name in saved}
    typed["date_of_birth"] = form.date_of_birth.data.isoformat()
    shown = {**saved, "sex": patient.sex.label, "indication": patient.indication.label}
    differences = [
        (getattr(form, name).label.text, shown[name])
        for name in saved
        if str(saved[name]).strip() != str(typed[name] or "").strip()
    ]
    form.set_version(patient.version)
    page = render_template(
        "patients/edit.html",
        patient=patient,
        form=form,
        stale_message=patient_services.stale_edit_message(patient_id),
        differences=differences,
    )
    patient_services.record_patient_viewed(current_user, patient)
    db.session.commit()
    return page, 409
