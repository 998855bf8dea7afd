"""Opening a session for a patient."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from clinic.auth.access import roles_required
from clinic.auth.models import CLINICAL_ROLES, Role
from clinic.extensions import db
from clinic.field_errors import FieldError, show_on_form
from clinic.form_choices import as_choices
from clinic.patients.courses.services import active_course
from clinic.patients.models import Indication, Patient
from clinic.patients.services import record_patient_viewed
from clinic.request_bounds import id_argument
from clinic.sessions.blueprint import bp
from clinic.sessions.entry_time import entered_time
from clinic.sessions.forms.opening import OpenSessionForm
from clinic.sessions.models import Route
from clinic.sessions.services.opening import NoConsentError, SessionDetails, open_session
from clinic.sessions.services.staff import staff_choices


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*CLINICAL_ROLES)
def new() -> Response | str | tuple[str, int]:
    patient_id = id_argument(request.args, "patient")
    patient = db.get_or_404(Patient, patient_id) if patient_id else abort(404)
    form = OpenSessionForm()
    form.attending_clinician_id.choices = staff_choices(Role.CLINICIAN, "Choose…")
    form.nurse_id.choices = staff_choices(Role.NURSE, "Choose…")
    course = active_course(patient.id)
    form.course_id.choices = as_choices(
        [(course.id, course.title)] if course else [("", "No active treatment course")]
    )
    if request.method == "GET":
        form.indication.data = (course.indication if course else patient.indication).value
        form.course_id.data = course.id if course else None
        if current_user.role == Role.NURSE:
            form.nurse_id.data = current_user.id
        elif current_user.role == Role.CLINICIAN:
            form.attending_clinician_id.data = current_user.id
    consent_needed: Route | None = None
    if form.validate_on_submit():
        details = SessionDetails(
            indication=Indication(form.indication.data),
            route=Route(form.route.data),
            attending_clinician_id=form.attending_clinician_id.data,
            nurse_id=form.nurse_id.data,
            started_at=entered_time(form, form.started_at),
            fasting_confirmed=bool(form.fasting_confirmed.data),
            weight_kg=form.weight_kg.data,
            course_id=form.course_id.data,
        )
        try:
            saved = open_session(current_user, patient.id, details, form.submission())
        except NoConsentError as error:
            db.session.rollback()
            show_on_form(form, error)
            consent_needed = error.route
        except FieldError as error:
            db.session.rollback()
            show_on_form(form, error, "route")
        else:
            db.session.commit()
            if saved.created:
                flash("Session opened.", "success")
            return redirect(url_for("sessions.chart", session_id=saved.entry.id))
    if form.is_submitted():
        form.renew_submission_key()
    page = render_template(
        "sessions/new.html",
        form=form,
        patient=patient,
        consent_needed=consent_needed,
        active_course=course,
    )
    # The page shows the patient's banner (name, allergies): a view of the record.
    record_patient_viewed(current_user, patient)
    db.session.commit()
    return (page, 422) if form.errors else page
