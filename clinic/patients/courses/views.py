"""Course forms: open a course, review it, end it (the clinician's). Thin: parse the form, call
one service, commit once, redirect to the course page (Post/Redirect/Get)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from clinic.auth.access import roles_required
from clinic.auth.models import Role
from clinic.extensions import db
from clinic.field_errors import show_on_form
from clinic.patients.courses import bp
from clinic.patients.courses import services as course_services
from clinic.patients.courses.forms import CourseForm, CourseReviewForm, EndCourseForm
from clinic.patients.courses.models import CourseStatus, Protocol, TreatmentCourse
from clinic.patients.models import Patient
from clinic.patients.services import record_patient_viewed
from clinic.submissions import ReusedFormError


def _page(template: str, patient: Patient, status: int = 200, **context: object) -> tuple[str, int]:
    """A form page: it shows the patient's header, so it is audited as a view of the record."""
    page = render_template(template, patient=patient, **context)
    record_patient_viewed(current_user, patient)
    db.session.commit()
    return page, status


def _course_page(patient_id: int, course_id: int) -> Response:
    return redirect(url_for("review.course_page", patient_id=patient_id, course_id=course_id))


def _course_or_404(patient: Patient, course_id: int) -> TreatmentCourse:
    course = course_services.course_of_patient(patient.id, course_id)
    if course is None:
        abort(404)
    return course


@bp.route("/<int:patient_id>/courses/new", methods=["GET", "POST"])
@roles_required(Role.CLINICIAN)
def new(patient_id: int) -> Response | tuple[str, int]:
    patient = db.get_or_404(Patient, patient_id)
    form = CourseForm()
    if request.method == "GET":
        form.indication.data = patient.indication.value
        form.protocol.data = Protocol.INDUCTION.value
        form.start_date.data = course_services.clinic_today()
    active = course_services.active_course(patient.id)
    if form.validate_on_submit():
        try:
            saved = course_services.open_course(
                current_user, patient.id, form.to_details(), form.submission()
            )
        except (course_services.CourseError, ReusedFormError) as error:
            db.session.rollback()
            show_on_form(form, error)
        else:
            db.session.commit()
            if saved.created:
                flash("Treatment course opened.", "success")
            return _course_page(patient.id, saved.entry.id)
    if form.is_submitted():
        form.renew_submission_key()
    status = 422 if form.errors or form.form_errors else 200
    return _page("courses/new.html", patient, status, form=form, active=active)


@bp.route("/<int:patient_id>/courses/<int:course_id>/reviews", methods=["GET", "POST"])
@roles_required(Role.CLINICIAN)
def review(patient_id: int, course_id: int) -> Response | tuple[str, int]:
    patient = db.get_or_404(Patient, patient_id)
    course = _course_or_404(patient, course_id)
    form = CourseReviewForm()
    if request.method == "GET":
        form.reviewed_on.data = course_services.clinic_today()
    if form.validate_on_submit():
        try:
            saved = course_services.review_course(
                current_user,
                patient.id,
                course.id,
                form.reviewed_on.data,
                form.note.data or "",
                form.submission(),
            )
        except (course_services.CourseError, ReusedFormError) as error:
            db.session.rollback()
            show_on_form(form, error)
        else:
            db.session.commit()
            if saved.created:
                flash("Review recorded.", "success")
            return _course_page(patient.id, course.id)
    if form.is_submitted():
        form.renew_submission_key()
    course = _course_or_404(patient, course_id)
    status = 422 if form.errors or form.form_errors else 200
    return _page("courses/review.html", patient, status, form=form, course=course)


@bp.route("/<int:patient_id>/courses/<int:course_id>/end", methods=["GET", "POST"])
@roles_required(Role.CLINICIAN)
def end(patient_id: int, course_id: int) -> Response | tuple[str, int]:
    patient = db.get_or_404(Patient, patient_id)
    course = _course_or_404(patient, course_id)
    form = EndCourseForm()
    status = 200
    if form.validate_on_submit():
        try:
            course_services.end_course(
                current_user,
                patient.id,
                course.id,
                CourseStatus(form.outcome.data),
                form.reason.data or "",
            )
        except course_services.CourseEndedAlreadyError as error:
            db.session.rollback()
            form.form_errors.append(error.message)
            status = 409
        except course_services.CourseError as error:
            db.session.rollback()
            show_on_form(form, error)
        else:
            db.session.commit()
            flash("Treatment course ended.", "success")
            return _course_page(patient.id, course.id)
    course = _course_or_404(patient, course_id)
    if status == 200 and (form.errors or form.form_errors):
        status = 422
    return _page("courses/end.html", patient, status, form=form, course=course)
