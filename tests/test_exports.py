"""Exports of a patient's record: FHIR R4 Bundle and sessions CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from fhir.resources.R4B.bundle import Bundle

from clinic.auth.models import Role, User
from clinic.csv_cells import escape_cell
from clinic.patients.models import Indication, Patient
from clinic.review.fhir import dumps
from clinic.sessions.models import (
    Administration,
    ChecklistCompletion,
    ChecklistItem,
    InfusionSession,
    Instrument,
    Method,
    MonitoringEntry,
    Phase,
    Route,
    Score,
    ScoreTiming,
    SessionStatus,
    Signature,
)
from tests.factories import insert_administration, insert_session, make_patient
from tests.helpers import audit_actions, count_queries

T0 = datetime(2024, 3, 5, 15, 0, tzinfo=UTC)


def add_patient(mrn: str = "MRN-001") -> Patient:
    """Ada Tester, whose record the exports are read from."""
    return make_patient(
        Indication.DEPRESSION,
        "Tester",
        mrn=mrn,
        given_name="Ada",
        date_of_birth=date(1980, 2, 29),
        allergies=None,
    )


def add_administration(
    session: InfusionSession, by: User, dose: str, **extra: Any
) -> Administration:
    """An administration five minutes into the session, in mg/kg unless `extra` says otherwise."""
    values: dict[str, Any] = {
        "dose_unit": "mg/kg",
        "route": session.route,
        "started_at": session.started_at + timedelta(minutes=5),
    } | extra
    return insert_administration(session.id, by.id, dose, **values)


@pytest.fixture
def staff(make_user: Callable[..., User]) -> dict[str, User]:
    return {
        "clinician": make_user(Role.CLINICIAN, full_name="Dr Ann Lee", credentials="MD"),
        "nurse": make_user(Role.NURSE, full_name="Bo Park", credentials="RN"),
    }


@pytest.fixture
def record(db: Any, staff: dict[str, User]) -> dict[str, Any]:
    """A patient with one full, signed session and one cancelled session."""
    clinician, nurse = staff["clinician"], staff["nurse"]
    patient = add_patient()
    signed = insert_session(
        patient,
        nurse,
        clinician,
        started_at=T0,
        weight_kg=Decimal("72.5"),
        status=SessionStatus.SIGNED,
        discharged_at=T0 + timedelta(hours=2),
    )
    kept = add_administration(
        signed, clinician, "0.5", rate_amount=Decimal("12.25"), rate_unit="mg/kg/h"
    )
    voided = add_administration(
        signed,
        clinician,
        "35",
        dose_unit="mg",
        method=Method.BOLUS,
        voided_at=T0 + timedelta(minutes=7),
        voided_by_id=clinician.id,
        void_reason="wrong patient",
    )
    vitals = MonitoringEntry(
        session_id=signed.id,
        recorded_by_id=nurse.id,
        phase=Phase.DURING,
        occurred_at=T0 + timedelta(minutes=40),
        systolic_bp=142,
        diastolic_bp=88,
        heart_rate=91,
        spo2=97,
        respiratory_rate=14,
        temperature_c=Decimal("36.8"),
        pain_nrs=3,
    )
    voided_vitals = MonitoringEntry(
        session_id=signed.id,
        recorded_by_id=nurse.id,
        phase=Phase.DURING,
        occurred_at=T0 + timedelta(minutes=45),
        heart_rate=200,
        voided_at=T0 + timedelta(minutes=46),
        voided_by_id=nurse.id,
        void_reason="probe slipped",
    )
    phq_before = Score(
        session_id=signed.id,
        recorded_by_id=nurse.id,
        instrument=Instrument.PHQ9,
        timing=ScoreTiming.BEFORE,
        occurred_at=T0 - timedelta(minutes=10),
        answers=[2, 2, 2, 2, 2, 2, 2, 2, 1],
        total=17,
        risk_flag=True,
    )
    pain_after = Score(
        session_id=signed.id,
        recorded_by_id=nurse.id,
        instrument=Instrument.PAIN_NRS,
        timing=ScoreTiming.AFTER,
        occurred_at=T0 + timedelta(hours=2),
        answers=[],
        total=2,
    )
    db.session.add_all([vitals, voided_vitals, phq_before, pain_after])
    for item in db.session.scalars(sa.select(ChecklistItem).where(ChecklistItem.required)):
        db.session.add(
            ChecklistCompletion(
                session_id=signed.id, recorded_by_id=nurse.id, item_id=item.id, done=True
            )
        )
    db.session.add(
        Signature(
            session_id=signed.id,
            signer_id=clinician.id,
            signer_name="Dr Ann Lee",
            signer_credentials="MD",
            signed_at=T0 + timedelta(hours=3),
            content_digest="0" * 64,
        )
    )
    cancelled = insert_session(
        patient,
        nurse,
        clinician,
        started_at=T0 + timedelta(days=7),
        route=Route.INTRANASAL,
        status=SessionStatus.CANCELLED,
        cancelled_at=T0 + timedelta(days=7, minutes=20),
        cancel_reason="patient unwell",
    )
    spray = add_administration(
        cancelled, clinician, "28", dose_unit="mg", method=Method.SPRAY, drug="Esketamine"
    )
    db.session.commit()
    return {
        "patient": patient,
        "signed": signed,
        "cancelled": cancelled,
        "kept": kept,
        "voided": voided,
        "spray": spray,
        "vitals": vitals,
        "voided_vitals": voided_vitals,
    }


def get_bundle(client: Any, patient_id: int) -> tuple[Any, str]:
    response = client.get(f"/patients/{patient_id}/export.json")
    assert response.status_code == 200
    return response, response.get_data(as_text=True)


def resources(data: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in data["entry"] if e["resource"]["resourceType"] == kind]


def codes(concept: dict[str, Any]) -> set[str]:
    return {c["code"] for c in concept.get("coding", [])}


def observations_with(data: dict[str, Any], code: str) -> list[dict[str, Any]]:
    return [o for o in resources(data, "Observation") if code in codes(o["code"])]


# --- FHIR ---------------------------------------------------------------------------------------


def test_fhir_export_is_a_valid_r4_collection_bundle(client, login_as, record):
    login_as(Role.CLINICIAN)
    response, text = get_bundle(client, record["patient"].id)
    assert response.mimetype == "application/fhir+json"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Cache-Control"] == "no-store"
    data = json.loads(text)
    bundle = Bundle.model_validate(data)
    assert bundle.type == "collection"

    full_urls = {e["fullUrl"] for e in data["entry"]}
    assert all(url.startswith("urn:uuid:") for url in full_urls)
    assert len(full_urls) == len(data["entry"])
    for resource in (e["resource"] for e in data["entry"]):
        for key in ("subject", "context", "encounter"):
            if key in resource:
                assert resource[key]["reference"] in full_urls, (resource["resourceType"], key)

    (patient,) = resources(data, "Patient")
    assert patient["identifier"] == [
        {"use": "usual", "system": "urn:clinic:mrn", "value": "MRN-001"}
    ]
    assert patient["birthDate"] == "1980-02-29"
    assert patient["gender"] == "female"
    assert patient["name"][0]["family"] == "Tester"

    encounters = resources(data, "Encounter")
    assert [e["status"] for e in encounters] == ["finished", "cancelled"]
    assert encounters[0]["class"]["code"] == "AMB"
    assert encounters[0]["reasonCode"] == [{"text": "Depression"}]
    assert encounters[0]["period"]["end"].startswith("2024-03-05T17:00")


def test_fhir_resource_ids_are_deterministic(client, login_as, record):
    login_as(Role.CLINICIAN)
    first = json.loads(get_bundle(client, record["patient"].id)[1])
    second = json.loads(get_bundle(client, record["patient"].id)[1])
    assert [e["fullUrl"] for e in first["entry"]] == [e["fullUrl"] for e in second["entry"]]


def test_fhir_doses_are_exported_exactly_as_entered(client, login_as, record):
    login_as(Role.CLINICIAN)
    _, text = get_bundle(client, record["patient"].id)
    # The digits in the JSON text itself, not a float that happens to print the same.
    assert '"dose":{"value":0.5,"unit":"mg/kg"' in text
    assert '"rateQuantity":{"value":12.25,"unit":"mg/kg/h"' in text
    data = json.loads(text, parse_float=Decimal)
    admins = resources(data, "MedicationAdministration")
    kept = next(a for a in admins if a["status"] == "completed" and "rateQuantity" in a["dosage"])
    assert kept["dosage"]["dose"] == {
        "value": Decimal("0.5"),
        "unit": "mg/kg",
        "system": "http://unitsofmeasure.org",
        "code": "mg/kg",
    }
    assert kept["dosage"]["rateQuantity"]["value"] == Decimal("12.25")
    assert kept["dosage"]["rateQuantity"]["code"] == "mg/kg/h"
    assert kept["dosage"]["method"] == {"text": "infusion"}
    assert kept["medicationCodeableConcept"]["text"] == "Ketamine hydrochloride"
    assert kept["medicationCodeableConcept"]["coding"][0]["code"] == "6130"


def test_fhir_administrations_carry_snomed_routes_and_voids(client, login_as, record):
    login_as(Role.CLINICIAN)
    data = json.loads(get_bundle(client, record["patient"].id)[1])
    admins = resources(data, "MedicationAdministration")
    assert len(admins) == 3
    by_status = sorted((a["status"], a["dosage"]["route"]["coding"][0]["code"]) for a in admins)
    assert by_status == [
        ("completed", "46713006"),  # intranasal
        ("completed", "47625008"),  # intravenous
        ("entered-in-error", "47625008"),
    ]
    for admin in admins:
        assert admin["dosage"]["route"]["coding"][0]["system"] == "http://snomed.info/sct"
    spray = next(a for a in admins if a["dosage"]["method"]["text"] == "spray")
    # Esketamine is not RxNorm 6130 (ketamine): text only, no wrong code.
    assert spray["medicationCodeableConcept"] == {"text": "Esketamine"}
    assert spray["effectiveDateTime"].startswith("2024-03-12T15:05")


def test_fhir_vitals_are_loinc_coded_with_a_bp_panel(client, login_as, record):
    login_as(Role.CLINICIAN)
    data = json.loads(get_bundle(client, record["patient"].id)[1], parse_float=Decimal)

    (bp,) = observations_with(data, "85354-9")
    assert bp["status"] == "final"
    assert bp["category"][0]["coding"][0]["code"] == "vital-signs"
    assert bp["effectiveDateTime"].startswith("2024-03-05T15:40")
    components = {c["code"]["coding"][0]["code"]: c["valueQuantity"] for c in bp["component"]}
    assert components["8480-6"]["value"] == 142
    assert components["8462-4"]["value"] == 88
    assert components["8480-6"]["code"] == "mm[Hg]"

    heart_rates = observations_with(data, "8867-4")
    assert sorted((o["status"], o["valueQuantity"]["value"]) for o in heart_rates) == [
        ("entered-in-error", 200),
        ("final", 91),
    ]
    assert heart_rates[0]["valueQuantity"]["code"] == "/min"
    (rr,) = observations_with(data, "9279-1")
    assert rr["valueQuantity"]["value"] == 14
    (spo2,) = observations_with(data, "59408-5")
    assert codes(spo2["code"]) == {"59408-5", "2708-6"}
    assert spo2["valueQuantity"]["code"] == "%"
    (temp,) = observations_with(data, "8310-5")
    assert temp["valueQuantity"]["value"] == Decimal("36.8")
    assert temp["valueQuantity"]["code"] == "Cel"
    (weight,) = observations_with(data, "29463-7")
    assert weight["valueQuantity"]["value"] == Decimal("72.5")
    assert weight["valueQuantity"]["code"] == "kg"


def test_fhir_scores_are_survey_observations(client, login_as, record):
    login_as(Role.CLINICIAN)
    data = json.loads(get_bundle(client, record["patient"].id)[1])

    (phq,) = observations_with(data, "44249-1")
    assert phq["category"][0]["coding"][0]["code"] == "survey"
    parts = {c["code"]["coding"][0]["code"]: c for c in phq["component"]}
    assert parts["44261-6"]["valueQuantity"]["value"] == 17
    assert parts["44260-8"]["valueInteger"] == 1

    pains = observations_with(data, "72514-3")
    assert sorted(p["valueQuantity"]["value"] for p in pains) == [2, 3]
    assert all(p["category"][0]["coding"][0]["code"] == "survey" for p in pains)


def test_fhir_export_of_a_patient_without_sessions_is_valid(client, login_as, db):
    login_as(Role.CLINICIAN)
    patient = add_patient(mrn="EMPTY-1")
    db.session.commit()
    data = json.loads(get_bundle(client, patient.id)[1])
    Bundle.model_validate(data)
    assert [e["resource"]["resourceType"] for e in data["entry"]] == ["Patient"]


def test_fhir_export_query_count_does_not_grow_with_sessions(client, login_as, db, staff):
    login_as(Role.CLINICIAN)
    clinician = staff["clinician"]
    counts = []
    for n, mrn in ((1, "Q-1"), (6, "Q-6")):
        patient = add_patient(mrn=mrn)
        for i in range(n):
            # A different nurse per session: lazy loading users would show as extra queries.
            nurse = User(username=f"n-{mrn}-{i}", full_name="N", role=Role.NURSE, password_hash="x")
            db.session.add(nurse)
            db.session.flush()
            session = insert_session(patient, nurse, clinician, started_at=T0 + timedelta(days=i))
            add_administration(session, nurse, "1")
        patient_id = patient.id
        db.session.commit()
        # An empty identity map, as in a real request: nothing is served from memory.
        db.session.expunge_all()
        with count_queries() as statements:
            get_bundle(client, patient_id)
        counts.append(len(statements))
        clinician = db.session.merge(clinician)
    assert counts[0] == counts[1], counts


def test_dumps_writes_decimals_exactly_and_refuses_float():
    assert dumps({"a": [Decimal("0.5000"), Decimal("12.25"), Decimal("100"), 3]}) == (
        '{"a":[0.5,12.25,100,3]}'
    )
    assert dumps(Decimal("0E-4")) == "0"
    with pytest.raises(TypeError):
        dumps({"v": 0.5})


# --- CSV ----------------------------------------------------------------------------------------


def read_csv(response: Any) -> list[dict[str, str]]:
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))


def test_csv_lists_sessions_with_administrations_as_entered(client, login_as, record, app):
    app.config["CLINIC_TIMEZONE"] = "America/New_York"
    login_as(Role.CLINICIAN)
    response = client.get(f"/patients/{record['patient'].id}/sessions.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "MRN" not in response.headers["Content-Disposition"]
    rows = read_csv(response)
    assert len(rows) == 2
    signed, cancelled = rows
    assert signed["Date"] == "2024-03-05"
    assert signed["Time"] == "10:00"  # 15:00 UTC in the clinic's zone
    assert signed["Route"] == "Intravenous (IV)"
    assert signed["Status"] == "Signed"
    assert signed["Attending"] == "Dr Ann Lee, MD"
    assert signed["Nurse"] == "Bo Park, RN"
    assert signed["Administrations"] == "Ketamine hydrochloride 0.5 mg/kg infusion at 12.25 mg/kg/h"
    assert signed["Voided administrations"] == "Ketamine hydrochloride 35 mg bolus"
    assert signed["PHQ-9 before"] == "17"
    assert signed["PHQ-9 after"] == ""
    assert signed["PHQ-9 item 9 above 0"] == "yes"
    assert signed["Pain before"] == ""
    assert signed["Pain after"] == "2"
    assert signed["Checklist complete"] == "yes"
    assert signed["Signed by"] == "Dr Ann Lee, MD"
    assert signed["Signed at"] == "2024-03-05 13:00"
    assert cancelled["Status"] == "Cancelled"
    assert cancelled["Administrations"] == "Esketamine 28 mg spray"
    assert cancelled["Checklist complete"] == "no"
    assert cancelled["Signed by"] == ""


def test_csv_never_sums_administrations(client, login_as, db, record, staff):
    add_administration(record["signed"], staff["clinician"], "0.25", method=Method.BOLUS)
    db.session.commit()
    login_as(Role.CLINICIAN)
    rows = read_csv(client.get(f"/patients/{record['patient'].id}/sessions.csv"))
    assert rows[0]["Administrations"] == (
        "Ketamine hydrochloride 0.5 mg/kg infusion at 12.25 mg/kg/h; "
        "Ketamine hydrochloride 0.25 mg/kg bolus"
    )


@pytest.mark.parametrize(
    "cell", ['=HYPERLINK("http://evil.example","x")', "+1", "-2", "@x", "\t=1", "\r=1"]
)
def test_csv_cell_escaping(cell):
    assert escape_cell(cell) == "'" + cell
    assert escape_cell("Ketamine 0.5 mg") == "Ketamine 0.5 mg"


def test_csv_escapes_formula_typed_into_the_record(client, login_as, db, staff):
    patient = add_patient()
    session = insert_session(patient, staff["nurse"], staff["clinician"], started_at=T0)
    add_administration(session, staff["clinician"], "1", drug='=HYPERLINK("http://x","y")')
    staff["nurse"].full_name = "@SUM(1+1)"
    staff["clinician"].full_name = "-2+3"
    db.session.commit()
    login_as(Role.CLINICIAN)
    rows = read_csv(client.get(f"/patients/{patient.id}/sessions.csv"))
    assert rows[0]["Administrations"] == '\'=HYPERLINK("http://x","y") 1 mg/kg infusion'
    assert rows[0]["Nurse"] == "'@SUM(1+1), RN"
    assert rows[0]["Attending"] == "'-2+3, MD"


# --- access and audit ---------------------------------------------------------------------------

EXPORTS = [
    ("export.json", "patient_exported_fhir"),
    ("sessions.csv", "patient_exported_csv"),
]


@pytest.mark.parametrize("path", [p for p, _ in EXPORTS])
@pytest.mark.parametrize(
    ("role", "status"), [(Role.NURSE, 403), (Role.ADMIN, 403), (Role.CLINICIAN, 200)]
)
def test_export_role_matrix(client, login_as, db, path, role, status):
    patient = add_patient()
    db.session.commit()
    login_as(role)
    assert client.get(f"/patients/{patient.id}/{path}").status_code == status


@pytest.mark.parametrize("path", [p for p, _ in EXPORTS])
def test_export_redirects_anonymous_to_login(client, db, path):
    patient = add_patient()
    db.session.commit()
    response = client.get(f"/patients/{patient.id}/{path}")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("path", [p for p, _ in EXPORTS])
def test_export_of_unknown_patient_is_404(client, login_as, path):
    login_as(Role.CLINICIAN)
    assert client.get(f"/patients/999999/{path}").status_code == 404


@pytest.mark.parametrize(("path", "action"), EXPORTS)
def test_each_export_writes_an_audit_event(client, login_as, db, record, path, action):
    user = login_as(Role.CLINICIAN)
    patient_id = record["patient"].id
    assert client.get(f"/patients/{patient_id}/{path}").status_code == 200
    db.session.expire_all()
    events = audit_actions(action)
    assert len(events) == 1
    assert events[0].actor_id == user.id
    assert events[0].patient_id == patient_id
    assert events[0].entity == "patient"
    assert events[0].entity_id == str(patient_id)
