"""A patient's history page and the exports of the record.

Export file names carry the patient's id only: a name or MRN in a download would leak into
browser histories and download folders.
"""

from __future__ import annotations

from flask import Response, abort, current_app, render_template, request
from flask_login import current_user

from clinic.auth.access import roles_required
from clinic.auth.models import CLINICAL_ROLES, Role
from clinic.extensions import db
from clinic.orders.services import orders_of_course
from clinic.patients.courses.services import course_of_patient, courses_of
from clinic.patients.models import Indication, Patient
from clinic.patients.services import record_patient_viewed
from clinic.request_bounds import page_number
from clinic.review import history, trends
from clinic.review.blueprint import bp
from clinic.review.courses import course_summaries
from clinic.review.csv_export import sessions_csv
from clinic.review.fhir import build_bundle, dumps, load_patient_record
from clinic.review.history_filters import parse_filters
from clinic.sessions.models import Route
from clinic.sessions.services.scores import latest_risk_score


@bp.route("/<int:patient_id>")
@roles_required(*CLINICAL_ROLES)
def history_page(patient_id: int) -> tuple[str, int]:
    patient = db.get_or_404(Patient, patient_id)
    filters, filter_errors = parse_filters(request.args)
    # Everything the page shows is read first, as plain rows, so the audit commit below neither
    # waits on these reads nor expires anything the template would then reload row by row.
    sessions = history.load_history_page(
        patient.id,
        filters,
        current_app.config["VITALS_FLAGS"],
        page=page_number(request.args),
        per_page=current_app.config["HISTORY_PAGE_SIZE"],
    )
    trend_data = trends.build_trends(trends.trend_scores(patient.id))
    risk = latest_risk_score(patient.id)
    courses = course_summaries(courses_of(patient.id))
    # The audit append locks the chain head until commit: record, commit at once, then render.
    record_patient_viewed(current_user, patient)
    _commit_keeping_loaded()
    page = render_template(
        "review/history.html",
        patient=patient,
        sessions=sessions,
        filters=filters,
        filter_errors=filter_errors,
        routes=list(Route),
        indications=list(Indication),
        trends=trend_data,
        risk=risk,
        courses=courses,
    )
    # A filter that cannot be applied is ignored, with its message: the history is still shown.
    return page, 422 if filter_errors else 200


@bp.route("/<int:patient_id>/courses/<int:course_id>")
@roles_required(*CLINICAL_ROLES)
def course_page(patient_id: int, course_id: int) -> str:
    """A treatment course: its facts, its sessions with their place and PHQ-9, its reviews."""
    patient = db.get_or_404(Patient, patient_id)
    course = course_of_patient(patient.id, course_id)
    if course is None:
        abort(404)
    [summary] = course_summaries([course])
    orders = [order for order in orders_of_course(course.id) if order.in_force]
    record_patient_viewed(current_user, patient)
    _commit_keeping_loaded()
    return render_template("review/course.html", patient=patient, summary=summary, orders=orders)


def _commit_keeping_loaded() -> None:
    """Commit without expiring what the request has loaded.

    A read-only page commits only its `patient_viewed` event; expiring on that commit would make
    the template reload the patient and the user afterwards, and on SQLite every such reload
    opens a new BEGIN IMMEDIATE transaction that holds the write lock while the page renders.
    """
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


def _attachment(body: str | bytes, content_type: str, filename: str) -> Response:
    response = Response(body, content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.route("/<int:patient_id>/export.json")
@roles_required(Role.CLINICIAN)
def export_fhir(patient_id: int) -> Response:
    patient = db.get_or_404(Patient, patient_id)
    body = dumps(build_bundle(load_patient_record(patient)))
    record_patient_viewed(current_user, patient, "patient_exported_fhir")
    db.session.commit()
    return _attachment(
        body, "application/fhir+json; charset=utf-8", f"patient-{patient.id}.fhir.json"
    )


@bp.route("/<int:patient_id>/sessions.csv")
@roles_required(Role.CLINICIAN)
def export_csv(patient_id: int) -> Response:
    patient = db.get_or_404(Patient, patient_id)
    body = sessions_csv(load_patient_record(patient))
    record_patient_viewed(current_user, patient, "patient_exported_csv")
    db.session.commit()
    return _attachment(body, "text/csv; charset=utf-8", f"patient-{patient.id}-sessions.csv")
