"""A patient's record as a FHIR R4 Bundle (type collection), built as plain dicts.

Codes come from docs REFERENCE.md (SNOMED CT routes, LOINC, UCUM), so every export names things
the same way. Doses and rates leave the app exactly as the clinician entered them: Decimals are
written as JSON numbers by `dumps`, never through float, and nothing is summed or derived.

Resource ids are uuid5 of the entity and its row id, so the same record exports to the same
bundle and references (`urn:uuid:...`) resolve inside it without a server.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from clinic.clinical_numbers import decimal_text
from clinic.database import utcnow
from clinic.extensions import db
from clinic.orders.models import MedicationOrder, OrderKind, OrderStatus
from clinic.patients.consents.models import Consent
from clinic.patients.courses.models import CourseReview, CourseStatus, TreatmentCourse
from clinic.patients.models import Patient, Sex
from clinic.sessions.deviations import deviations_of
from clinic.sessions.models import (
    Administration,
    ChecklistCompletion,
    ChecklistItem,
    InfusionSession,
    Instrument,
    MonitoringEntry,
    Route,
    Score,
    SessionStatus,
)
from clinic.sessions.services.scores import score_definition

MRN_SYSTEM = "urn:clinic:mrn"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
PATIENT_CONSENT = ("59284-0", "Patient Consent")  # LOINC, the category of a consent document

# A fixed namespace: the same row always gets the same resource id, across exports and servers.
ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:clinic:fhir")

ROUTE_CODES: dict[Route, tuple[str, str]] = {
    Route.IV: ("47625008", "Intravenous route"),
    Route.IM: ("78421000", "Intramuscular route"),
    Route.INTRANASAL: ("46713006", "Nasal route"),
    Route.SUBCUTANEOUS: ("34206005", "Subcutaneous route"),
    Route.ORAL: ("26643006", "Oral route"),
    Route.SUBLINGUAL: ("37839007", "Sublingual route"),
}

# The app's unit labels are what clinicians read; UCUM spells micrograms "ug".
UCUM_CODES: dict[str, str] = {
    "mg": "mg",
    "mcg": "ug",
    "ug": "ug",
    "g": "g",
    "mL": "mL",
    "mg/kg": "mg/kg",
    "mg/h": "mg/h",
    "mL/h": "mL/h",
    "mg/kg/h": "mg/kg/h",
    "mcg/kg/min": "ug/kg/min",
    "mg/kg/min": "mg/kg/min",
}

GENDER: dict[Sex, str] = {
    Sex.FEMALE: "female",
    Sex.MALE: "male",
    Sex.OTHER: "other",
    Sex.UNKNOWN: "unknown",
}

KETAMINE_RXNORM = ("6130", "ketamine")
# Word boundary on purpose: esketamine and arketamine are other RxNorm ingredients.
KETAMINE_NAME = re.compile(r"\bketamine\b", re.IGNORECASE)


# ---------------------------------------------------------------------------------------------
# Loading


@dataclass
class SessionRecord:
    session: InfusionSession
    administrations: list[Administration] = field(default_factory=list)
    monitoring: list[MonitoringEntry] = field(default_factory=list)
    scores: list[Score] = field(default_factory=list)
    checklist: list[ChecklistCompletion] = field(default_factory=list)


@dataclass
class PatientRecord:
    patient: Patient
    sessions: list[SessionRecord]
    required_checklist_item_ids: frozenset[int]
    consents: list[Consent] = field(default_factory=list)
    courses: list[TreatmentCourse] = field(default_factory=list)
    reviews: dict[int, list[CourseReview]] = field(default_factory=dict)
    orders: list[MedicationOrder] = field(default_factory=list)


def load_patient_record(patient: Patient) -> PatientRecord:
    """Everything the exports show, in a fixed number of queries whatever the history's size.

    Entries are selected by joining on the patient rather than by an IN list of session ids, so
    a patient with a thousand sessions costs the same seven queries as one with a single session.
    """
    sessions = db.session.scalars(
        sa.select(InfusionSession)
        .where(InfusionSession.patient_id == patient.id)
        .options(
            selectinload(InfusionSession.attending_clinician),
            selectinload(InfusionSession.nurse),
            selectinload(InfusionSession.signature),
        )
        .order_by(InfusionSession.started_at, InfusionSession.id)
    ).all()
    records = {s.id: SessionRecord(s) for s in sessions}

    def entries_of(model: Any, *order: Any) -> Iterable[Any]:
        return db.session.scalars(
            sa.select(model)
            .join(InfusionSession, model.session_id == InfusionSession.id)
            .where(InfusionSession.patient_id == patient.id)
            .order_by(*order, model.id)
        ).unique()

    for entry in entries_of(Administration, Administration.started_at):
        records[entry.session_id].administrations.append(entry)
    for entry in entries_of(MonitoringEntry, MonitoringEntry.occurred_at):
        records[entry.session_id].monitoring.append(entry)
    for entry in entries_of(Score, Score.occurred_at):
        records[entry.session_id].scores.append(entry)
    for entry in entries_of(ChecklistCompletion, ChecklistCompletion.recorded_at):
        records[entry.session_id].checklist.append(entry)

    required = frozenset(
        db.session.scalars(
            sa.select(ChecklistItem.id).where(
                ChecklistItem.required.is_(True), ChecklistItem.active.is_(True)
            )
        )
    )
    record = PatientRecord(patient, list(records.values()), required)
    record.consents = list(
        db.session.scalars(
            sa.select(Consent).where(Consent.patient_id == patient.id).order_by(Consent.id)
        ).unique()
    )
    record.courses = list(
        db.session.scalars(
            sa.select(TreatmentCourse)
            .where(TreatmentCourse.patient_id == patient.id)
            .order_by(TreatmentCourse.id)
        ).unique()
    )
    for review in db.session.scalars(
        sa.select(CourseReview)
        .where(CourseReview.patient_id == patient.id)
        .order_by(CourseReview.reviewed_on, CourseReview.id)
    ).unique():
        record.reviews.setdefault(review.course_id, []).append(review)
    record.orders = list(
        db.session.scalars(
            sa.select(MedicationOrder)
            .where(MedicationOrder.patient_id == patient.id)
            .order_by(MedicationOrder.id)
        ).unique()
    )
    return record


# ---------------------------------------------------------------------------------------------
# JSON with exact decimals


def dumps(value: Any) -> str:
    """JSON text where a Decimal is written as its exact digits (json.dumps would need float)."""
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, dict):
        items = (f"{json.dumps(str(k))}:{dumps(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    if isinstance(value, float):
        raise TypeError("float refused in a clinical export: use Decimal")
    if value is None or isinstance(value, bool | int | str):
        return json.dumps(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


# ---------------------------------------------------------------------------------------------
# Building blocks


def resource_id(entity: str, *key: object) -> str:
    return str(uuid.uuid5(ID_NAMESPACE, "/".join([entity, *map(str, key)])))


def full_url(rid: str) -> str:
    return f"urn:uuid:{rid}"


def instant(value: datetime) -> str:
    return value.isoformat()


def coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    return {"system": system, "code": code, **({"display": display} if display else {})}


def quantity(value: Decimal | int, unit: str) -> dict[str, Any]:
    """A Quantity with the unit as the clinician chose it, and its UCUM code when it has one."""
    ucum = UCUM_CODES.get(unit, unit if unit in ("%", "Cel", "/min", "mm[Hg]", "kg") else None)
    result: dict[str, Any] = {"value": value, "unit": unit}
    if ucum:
        result |= {"system": UCUM, "code": ucum}
    return result


def score_quantity(value: int) -> dict[str, Any]:
    return {"value": value, "unit": "{score}", "system": UCUM, "code": "{score}"}


def route_concept(route: Route) -> dict[str, Any]:
    code, display = ROUTE_CODES[route]
    return {"coding": [coding(SNOMED, code, display)], "text": route.label}


def category(code: str, display: str) -> list[dict[str, Any]]:
    return [{"coding": [coding(OBSERVATION_CATEGORY, code, display)]}]


VITAL_SIGNS = ("vital-signs", "Vital Signs")
SURVEY = ("survey", "Survey")

# Single-value vital signs: (column, id suffix, LOINC coding(s), UCUM unit), REFERENCE.md.
VITALS_BY_FIELD: tuple[tuple[str, str, tuple[Any, ...], str], ...] = (
    ("heart_rate", "hr", ("8867-4", "Heart rate"), "/min"),
    ("respiratory_rate", "rr", ("9279-1", "Respiratory rate"), "/min"),
    (
        "spo2",
        "spo2",
        (
            "59408-5",
            "Oxygen saturation in Arterial blood by Pulse oximetry",
            ("2708-6", "Oxygen saturation in Arterial blood"),
        ),
        "%",
    ),
    ("temperature_c", "temp", ("8310-5", "Body temperature"), "Cel"),
)


def entry(rid: str, resource: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": full_url(rid), "resource": {"id": rid, **resource}}


# ---------------------------------------------------------------------------------------------
# Resources


def patient_resource(patient: Patient) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [{"use": "usual", "system": MRN_SYSTEM, "value": patient.mrn}],
        "name": [{"use": "official", "family": patient.family_name, "given": [patient.given_name]}],
        "gender": GENDER[patient.sex],
        "birthDate": patient.date_of_birth.isoformat(),
    }
    contact: dict[str, Any] = {}
    if patient.emergency_contact_name:
        contact["name"] = {"text": patient.emergency_contact_name}
    if patient.emergency_contact_phone:
        contact["telecom"] = [{"system": "phone", "value": patient.emergency_contact_phone}]
    if contact:
        resource["contact"] = [contact]
    return resource


def encounter_status(session: InfusionSession) -> str:
    # Encounter status describes the visit, not its paperwork: a discharged but not yet signed
    # session is a finished encounter.
    if session.status == SessionStatus.CANCELLED:
        return "cancelled"
    if session.status == SessionStatus.SIGNED or session.discharged_at is not None:
        return "finished"
    return "in-progress"


def encounter_resource(session: InfusionSession, patient_ref: dict[str, str]) -> dict[str, Any]:
    period: dict[str, str] = {"start": instant(session.started_at)}
    end = session.discharged_at or session.cancelled_at
    if end is not None:
        period["end"] = instant(end)
    participants = [
        {
            "type": [{"coding": [coding(PARTICIPATION_TYPE, "ATND", "attender")]}],
            "individual": {"display": session.attending_clinician.display_name},
        },
        {
            "type": [{"coding": [coding(PARTICIPATION_TYPE, "PART", "Participation")]}],
            "individual": {"display": session.nurse.display_name},
        },
    ]
    return {
        "resourceType": "Encounter",
        "identifier": [{"system": "urn:clinic:infusion-session", "value": str(session.id)}],
        "status": encounter_status(session),
        "class": coding(ACT_CODE, "AMB", "ambulatory"),
        "subject": patient_ref,
        "participant": participants,
        "period": period,
        "reasonCode": [{"text": session.indication.label}],
    }


def medication_concept(drug: str) -> dict[str, Any]:
    concept: dict[str, Any] = {"text": drug}
    if KETAMINE_NAME.search(drug):
        concept["coding"] = [coding(RXNORM, *KETAMINE_RXNORM)]
    return concept


def void_note(entry_: Any) -> list[dict[str, str]]:
    if not entry_.is_voided:
        return []
    by = entry_.voided_by.display_name if entry_.voided_by else "unknown"
    return [{"text": f"Voided by {by} at {instant(entry_.voided_at)}: {entry_.void_reason or ''}"}]


def administration_resource(
    admin: Administration, patient_ref: dict[str, str], encounter_ref: dict[str, str]
) -> dict[str, Any]:
    dosage: dict[str, Any] = {
        "route": route_concept(admin.route),
        "method": {"text": admin.method.value},
        "dose": quantity(admin.dose_amount, admin.dose_unit),
    }
    if admin.site:
        dosage["site"] = {"text": admin.site}
    if admin.rate_amount is not None and admin.rate_unit:
        dosage["rateQuantity"] = quantity(admin.rate_amount, admin.rate_unit)
    if admin.ended_at is not None:
        effective: dict[str, Any] = {
            "effectivePeriod": {"start": instant(admin.started_at), "end": instant(admin.ended_at)}
        }
    else:
        effective = {"effectiveDateTime": instant(admin.started_at)}
    performers = [{"actor": {"display": admin.recorded_by.display_name}}]
    resource: dict[str, Any] = {
        "resourceType": "MedicationAdministration",
        "status": "entered-in-error" if admin.is_voided else "completed",
        "medicationCodeableConcept": medication_concept(admin.drug),
        "subject": patient_ref,
        "context": encounter_ref,
        **effective,
        "performer": performers,
        "dosage": dosage,
    }
    notes = [{"text": admin.note}] if admin.note else []
    if admin.order_id is not None:
        resource["request"] = {
            "reference": full_url(resource_id("medication_order", admin.order_id))
        }
        differences = deviations_of(admin, admin.order)
        if differences:
            text = f"Deviation from order {admin.order_id}: " + "; ".join(differences) + "."
            if admin.deviation_acknowledged_at is not None:
                by = admin.deviation_acknowledged_by
                text += (
                    f" Acknowledged by {by.display_name if by else 'a clinician'} at "
                    f"{instant(admin.deviation_acknowledged_at)}: {admin.deviation_note or ''}"
                )
            notes.append({"text": text})
    if admin.volume_ml is not None:
        drawn = f"{decimal_text(admin.volume_ml)} mL drawn"
        notes.append(
            {"text": f"{drawn} of {admin.concentration}" if admin.concentration else drawn}
        )
    if admin.ordering_clinician is not None:
        notes.append({"text": f"Ordered by {admin.ordering_clinician.display_name}"})
    if admin.lot_number:
        notes.append({"text": f"Lot {admin.lot_number}"})
    notes += void_note(admin)
    if notes:
        resource["note"] = notes
    return resource


def observation(
    *,
    code: dict[str, Any],
    category_: tuple[str, str],
    entry_: MonitoringEntry | Score | None,
    when: datetime,
    patient_ref: dict[str, str],
    encounter_ref: dict[str, str],
    notes: list[dict[str, str]] | None = None,
    **value: Any,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "entered-in-error" if entry_ is not None and entry_.is_voided else "final",
        "category": category(*category_),
        "code": code,
        "subject": patient_ref,
        "encounter": encounter_ref,
        "effectiveDateTime": instant(when),
    }
    if entry_ is not None:
        resource["issued"] = instant(entry_.recorded_at)
        resource["performer"] = [{"display": entry_.recorded_by.display_name}]
    resource |= value
    notes = [*(notes or []), *(void_note(entry_) if entry_ is not None else [])]
    if notes:
        resource["note"] = notes
    return resource


def loinc(code: str, display: str, *more: tuple[str, str]) -> dict[str, Any]:
    codings = [coding(LOINC, code, display)] + [coding(LOINC, c, d) for c, d in more]
    return {"coding": codings, "text": display}


def monitoring_observations(
    entry_: MonitoringEntry, patient_ref: dict[str, str], encounter_ref: dict[str, str]
) -> list[tuple[str, dict[str, Any]]]:
    """One Observation per value measured; the two BP values travel together as a panel."""
    common = {
        "entry_": entry_,
        "when": entry_.occurred_at,
        "patient_ref": patient_ref,
        "encounter_ref": encounter_ref,
    }
    found: list[tuple[str, dict[str, Any]]] = []

    def add(kind: str, code: dict[str, Any], category_: tuple[str, str], **value: Any) -> None:
        rid = resource_id("monitoring_entry", entry_.id, kind)
        found.append((rid, observation(code=code, category_=category_, **common, **value)))

    if entry_.systolic_bp is not None or entry_.diastolic_bp is not None:
        components = []
        for value, code, display in (
            (entry_.systolic_bp, "8480-6", "Systolic blood pressure"),
            (entry_.diastolic_bp, "8462-4", "Diastolic blood pressure"),
        ):
            if value is not None:
                components.append(
                    {"code": loinc(code, display), "valueQuantity": quantity(value, "mm[Hg]")}
                )
        add(
            "bp",
            loinc("85354-9", "Blood pressure panel with all children optional"),
            VITAL_SIGNS,
            component=components,
        )
    for column, key, code, unit in VITALS_BY_FIELD:
        value = getattr(entry_, column)
        if value is not None:
            add(key, loinc(*code), VITAL_SIGNS, valueQuantity=quantity(value, unit))
    if entry_.pain_nrs is not None:
        add(
            "pain",
            loinc("72514-3", "Pain severity - 0-10 verbal numeric rating [Score] - Reported"),
            SURVEY,
            valueQuantity=score_quantity(entry_.pain_nrs),
        )
    return found


def score_observation(
    score: Score, patient_ref: dict[str, str], encounter_ref: dict[str, str]
) -> dict[str, Any]:
    common = {
        "entry_": score,
        "when": score.occurred_at,
        "patient_ref": patient_ref,
        "encounter_ref": encounter_ref,
        "category_": SURVEY,
    }
    # Before or after the dose is what makes a score comparable; FHIR has no element for it.
    timing = [{"text": f"Scored {score.timing.value} the session"}]
    if score.instrument == Instrument.PHQ9:
        components: list[dict[str, Any]] = [
            {
                "code": loinc("44261-6", "Patient Health Questionnaire 9 item total score"),
                "valueQuantity": score_quantity(score.total),
            }
        ]
        if len(score.answers) >= 9:
            components.append(
                {
                    "code": loinc(
                        "44260-8",
                        "Thoughts that you would be better off dead, or of hurting yourself",
                    ),
                    "valueInteger": int(score.answers[8]),
                }
            )
        return observation(
            code=loinc("44249-1", "PHQ-9 quick depression assessment panel"),
            component=components,
            notes=timing,
            **common,
        )
    definition = score_definition(score)
    if score.instrument == Instrument.PAIN_NRS:
        return observation(
            code=loinc("72514-3", "Pain severity - 0-10 verbal numeric rating [Score] - Reported"),
            valueQuantity=score_quantity(score.total),
            notes=timing,
            **common,
        )
    # Any other instrument by its definition: its LOINC panel with the total as a component,
    # its LOINC total alone, or its name where it has no LOINC code.
    total_code = (
        loinc(definition.loinc_total, f"{definition.name} total score")
        if definition.loinc_total
        else {"text": f"{definition.name} total"}
    )
    if definition.loinc_panel:
        return observation(
            code=loinc(definition.loinc_panel, f"{definition.name} panel"),
            component=[{"code": total_code, "valueQuantity": score_quantity(score.total)}],
            notes=timing,
            **common,
        )
    return observation(
        code=total_code, valueQuantity=score_quantity(score.total), notes=timing, **common
    )


def questionnaire_response(
    score: Score, patient_ref: dict[str, str], encounter_ref: dict[str, str]
) -> dict[str, Any]:
    """The answers as given, item by item (an item not asked has no answer), against the
    instrument version they answered; LOINC codes on the items that have one."""
    definition = score_definition(score)
    version = score.instrument_version.version if score.instrument_version else 1
    items = []
    for item, answer in zip(definition.items, score.answers, strict=False):
        entry_: dict[str, Any] = {"linkId": item.name, "text": item.text}
        if item.loinc:  # the item's LOINC question, as a definition reference
            entry_["definition"] = f"{LOINC}/{item.loinc}"
        if answer is not None:
            entry_["answer"] = [{"valueInteger": int(answer)}]
        items.append(entry_)
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": f"urn:clinic:instrument:{definition.code}|{version}",
        "status": "entered-in-error" if score.is_voided else "completed",
        "subject": patient_ref,
        "encounter": encounter_ref,
        "authored": instant(score.occurred_at),
        "author": {"display": score.recorded_by.display_name},
        "item": items,
    }
    if definition.loinc_panel:
        resource["_questionnaire"] = {
            "extension": [
                {
                    "url": "http://hl7.org/fhir/StructureDefinition/display",
                    "valueString": f"{definition.name} (LOINC {definition.loinc_panel})",
                }
            ]
        }
    return resource


def weight_observation(
    session: InfusionSession,
    weight_kg: Decimal,
    patient_ref: dict[str, str],
    encounter_ref: dict[str, str],
) -> dict[str, Any]:
    # Weight is a pre-session check on the session row: it has no author or void of its own.
    return observation(
        code=loinc("29463-7", "Body weight"),
        category_=VITAL_SIGNS,
        entry_=None,
        when=session.started_at,
        patient_ref=patient_ref,
        encounter_ref=encounter_ref,
        valueQuantity=quantity(weight_kg, "kg"),
    )


def consent_resource(consent: Consent, patient_ref: dict[str, str]) -> dict[str, Any]:
    """A treatment consent: the document as its policy, the route it covers as its provision."""
    period = {"start": consent.signed_on.isoformat()}
    if consent.valid_until is not None:
        period["end"] = consent.valid_until.isoformat()
    return {
        "resourceType": "Consent",
        # A withdrawn consent no longer applies.
        "status": "inactive" if consent.withdrawn_at is not None else "active",
        "scope": {"coding": [coding(CONSENT_SCOPE, "treatment", "Treatment")]},
        "category": [
            {"coding": [coding(LOINC, *PATIENT_CONSENT)]},
            {"text": consent.consent_type.name},
        ],
        "patient": patient_ref,
        "dateTime": consent.signed_on.isoformat(),
        "policyRule": {
            "text": f"{consent.document_title}, version {consent.document_version}; "
            f"witnessed by {consent.witnessed_by}"
        },
        "provision": {
            "type": "permit",
            "period": period,
            "code": [route_concept(consent.consent_type.route)],
        },
    }


CARE_PLAN_STATUS = {
    CourseStatus.ACTIVE: "active",
    CourseStatus.COMPLETED: "completed",
    CourseStatus.DISCONTINUED: "revoked",
}


def care_plan_resource(
    course: TreatmentCourse, reviews: list[CourseReview], patient_ref: dict[str, str]
) -> dict[str, Any]:
    """A treatment course: its protocol and the sessions planned, its reviews as notes."""
    period: dict[str, str] = {"start": course.start_date.isoformat()}
    if course.ended_at is not None:
        period["end"] = instant(course.ended_at)
    description = f"{course.planned_sessions} sessions planned; {course.indication.label}"
    if course.review_due is not None:
        description += f"; review due {course.review_due.isoformat()}"
    notes = [
        {
            "authorString": review.clinician.display_name,
            "time": instant(review.recorded_at),
            "text": f"Review of {review.reviewed_on.isoformat()}: {review.note}",
        }
        for review in reviews
    ]
    if course.end_reason:
        notes.append({"text": f"{course.status.label}: {course.end_reason}"})
    resource: dict[str, Any] = {
        "resourceType": "CarePlan",
        "status": CARE_PLAN_STATUS[course.status],
        "intent": "plan",
        "title": course.title,
        "description": description,
        "subject": patient_ref,
        "period": period,
        "created": instant(course.created_at),
        "author": {"display": course.clinician.display_name},
    }
    if notes:
        resource["note"] = notes
    return resource


def medication_request_resource(
    order: MedicationOrder, patient_ref: dict[str, str]
) -> dict[str, Any]:
    """An order as the clinician wrote and signed it; a superseded or discontinued one stopped."""
    said = [
        f"{decimal_text(order.dose_amount)} {order.dose_unit}",
        order.route.label,
        order.method.value,
        order.rate_or_duration,
    ]
    dosage: dict[str, Any] = {
        "text": ", ".join(part for part in said if part),
        "route": route_concept(order.route),
        "method": {"text": order.method.value},
        "doseAndRate": [{"doseQuantity": quantity(order.dose_amount, order.dose_unit)}],
    }
    if order.kind == OrderKind.PRN:
        dosage["asNeededCodeableConcept"] = {"text": order.indication}
        limits = []
        if order.min_interval_minutes:
            limits.append(f"at least {order.min_interval_minutes} min apart")
        if order.max_doses_per_session:
            limits.append(f"at most {order.max_doses_per_session} a session")
        if limits:
            dosage["additionalInstruction"] = [{"text": ", ".join(limits)}]
    resource: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "status": "active" if order.status == OrderStatus.ACTIVE else "stopped",
        "intent": "order",
        "medicationCodeableConcept": medication_concept(order.drug),
        "subject": patient_ref,
        "authoredOn": instant(order.signed_at),
        "requester": {"display": order.signer},
        "dosageInstruction": [dosage],
    }
    if order.status == OrderStatus.DISCONTINUED and order.discontinue_reason:
        resource["statusReason"] = {"text": order.discontinue_reason}
    if order.course_id is not None:
        resource["basedOn"] = [
            {"reference": full_url(resource_id("treatment_course", order.course_id))}
        ]
    if order.supersedes_id is not None:
        resource["priorPrescription"] = {
            "reference": full_url(resource_id("medication_order", order.supersedes_id))
        }
    notes = [{"text": text} for text in (order.concentration, order.note) if text]
    if notes:
        resource["note"] = notes
    return resource


def build_bundle(record: PatientRecord) -> dict[str, Any]:
    """The patient's record as a FHIR R4 Bundle of type collection."""
    patient = record.patient
    patient_id = resource_id("patient", patient.id)
    patient_ref = {"reference": full_url(patient_id)}
    entries = [entry(patient_id, patient_resource(patient))]
    for consent in record.consents:
        entries.append(
            entry(resource_id("consent", consent.id), consent_resource(consent, patient_ref))
        )
    for course in record.courses:
        reviews = record.reviews.get(course.id, [])
        entries.append(
            entry(
                resource_id("treatment_course", course.id),
                care_plan_resource(course, reviews, patient_ref),
            )
        )
    for order in record.orders:
        entries.append(
            entry(
                resource_id("medication_order", order.id),
                medication_request_resource(order, patient_ref),
            )
        )
    for item in record.sessions:
        session = item.session
        encounter_id = resource_id("infusion_session", session.id)
        encounter_ref = {"reference": full_url(encounter_id)}
        entries.append(entry(encounter_id, encounter_resource(session, patient_ref)))
        if session.weight_kg is not None:
            entries.append(
                entry(
                    resource_id("infusion_session", session.id, "weight"),
                    weight_observation(session, session.weight_kg, patient_ref, encounter_ref),
                )
            )
        for admin in item.administrations:
            entries.append(
                entry(
                    resource_id("administration", admin.id),
                    administration_resource(admin, patient_ref, encounter_ref),
                )
            )
        for monitoring in item.monitoring:
            for rid, resource in monitoring_observations(monitoring, patient_ref, encounter_ref):
                entries.append(entry(rid, resource))
        for score in item.scores:
            entries.append(
                entry(
                    resource_id("score", score.id),
                    score_observation(score, patient_ref, encounter_ref),
                )
            )
            entries.append(
                entry(
                    resource_id("score", score.id, "answers"),
                    questionnaire_response(score, patient_ref, encounter_ref),
                )
            )
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "collection",
        "timestamp": instant(utcnow()),
        "entry": entries,
    }
