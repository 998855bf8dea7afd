"""Exports of a patient's record: FHIR R4 Bundle and a CSV of sessions. Clinicians only.

File names carry the patient's id only: a name or MRN in a download would leak into browser
histories and download folders.
"""

from __future__ import annotations

from flask import Response
from flask_login import current_user

from clinic.auth.access import roles_required
from clinic.auth.models import Role
from clinic.extensions import db
from clinic.patients import bp
from clinic.patients.csv_export import sessions_csv
from clinic.patients.fhir import build_bundle, dumps, load_patient_record
from clinic.patients.models import Patient
from clinic.patients.services import record_patient_viewed


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
