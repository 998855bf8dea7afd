"""Records for tests that need a clinical setting before the behaviour under test."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from clinic.auth.models import User
from clinic.database import utcnow
from clinic.extensions import db
from clinic.orders.models import MedicationOrder, OrderKind, OrderStatus
from clinic.orders.services import OrderDetails, record_signed_order
from clinic.patients.consents.models import Consent, ConsentType
from clinic.patients.consents.services import (
    ConsentDetails,
    clinic_today,
    current_consent_for,
    record_consent,
)
from clinic.patients.courses.models import CourseStatus, Protocol, TreatmentCourse
from clinic.patients.courses.services import CourseDetails, active_course, end_course, open_course
from clinic.patients.models import Indication, Patient, Sex
from clinic.sessions.models import (
    Administration,
    ChecklistCompletion,
    ChecklistItem,
    InfusionEvent,
    InfusionEventKind,
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
from clinic.sessions.services import administrations as administrations_services
from clinic.sessions.services import monitoring as monitoring_services
from clinic.sessions.services.administrations import AdministrationDetails
from clinic.sessions.services.discharge import active_checklist_items, record_checklist
from clinic.sessions.services.monitoring import MonitoringDetails
from clinic.sessions.services.opening import SessionDetails, open_session
from clinic.sessions.services.scores import record_pain, record_phq9
from clinic.sessions.services.signoff import sign_session
from tests.second_factor_codes import fresh_code


def make_patient(
    indication: Indication = Indication.FIBROMYALGIA,
    family_name: str = "Doe",
    *,
    mrn: str | None = None,
    given_name: str = "Jane",
    date_of_birth: date = date(1980, 5, 17),
    allergies: str | None = "Penicillin",
    created_by: User | None = None,
) -> Patient:
    """A patient inserted directly (no audit); a unique MRN unless one is given."""
    patient = Patient(
        mrn=mrn or f"MRN-{uuid.uuid4().hex[:8]}",
        family_name=family_name,
        given_name=given_name,
        date_of_birth=date_of_birth,
        sex=Sex.FEMALE,
        allergies=allergies,
        indication=indication,
        created_by_id=created_by.id if created_by else None,
    )
    db.session.add(patient)
    db.session.commit()
    return patient


def consent_type_for(route: Route) -> ConsentType:
    """The seeded consent type covering the route."""
    found = db.session.scalar(
        sa.select(ConsentType).where(ConsentType.route == route).order_by(ConsentType.id).limit(1)
    )
    assert found is not None, f"no consent type for {route}"
    return found


def give_consent(
    patient: Patient,
    user: User,
    route: Route = Route.IV,
    *,
    signed_on: date | None = None,
    valid_until: date | None = None,
) -> Consent:
    """A consent for the route, recorded through the service (audited), signed today unless
    given, without expiry unless given."""
    written = record_consent(
        user,
        patient.id,
        ConsentDetails(
            consent_type_id=consent_type_for(route).id,
            document_title="Consent to ketamine treatment",
            document_version="2025-1",
            signed_on=signed_on or clinic_today(),
            witnessed_by="A. Witness",
            valid_until=valid_until,
        ),
        None,
    )
    db.session.commit()
    return db.session.get(Consent, written.entry.id)


def open_course_for(
    patient: Patient,
    clinician: User,
    *,
    planned_sessions: int = 6,
    status: CourseStatus = CourseStatus.ACTIVE,
    start_date: date | None = None,
) -> TreatmentCourse:
    """An induction course opened through the service (audited); ended as `status` says."""
    written = open_course(
        clinician,
        patient.id,
        CourseDetails(
            indication=patient.indication,
            protocol=Protocol.INDUCTION,
            protocol_name="6 IV infusions over 3 weeks",
            planned_sessions=planned_sessions,
            start_date=start_date or clinic_today() - timedelta(days=300),
        ),
        None,
    )
    if status != CourseStatus.ACTIVE:
        end_course(clinician, patient.id, written.entry.id, status, "Ended for the test")
    db.session.commit()
    return db.session.get(TreatmentCourse, written.entry.id)


def ready_to_open(patient: Patient, clinician: User, route: Route = Route.IV) -> TreatmentCourse:
    """What opening a session for the route requires of the patient: a current consent for it
    and an active treatment course (returned)."""
    if current_consent_for(patient.id, route, clinic_today()) is None:
        give_consent(patient, clinician, route, signed_on=date(2000, 1, 1))
    return active_course(patient.id) or open_course_for(patient, clinician)


def open_session_for(
    patient: Patient,
    nurse: User,
    clinician: User,
    *,
    route: Route = Route.IV,
    started_at: datetime | None = None,
    indication: Indication | None = None,
) -> InfusionSession:
    """A session opened through the service, with what opening requires (a consent for the
    route, an active course) recorded first when the patient has none."""
    course = ready_to_open(patient, clinician, route)
    written = open_session(
        nurse,
        patient.id,
        SessionDetails(
            indication=indication or patient.indication,
            route=route,
            attending_clinician_id=clinician.id,
            nurse_id=nurse.id,
            # Whole minutes, as the chart's datetime-local inputs can express them.
            started_at=started_at
            or utcnow().replace(second=0, microsecond=0) - timedelta(minutes=30),
            fasting_confirmed=True,
            weight_kg=Decimal("70.5"),
            course_id=course.id,
        ),
        None,
    )
    db.session.commit()
    return db.session.get(InfusionSession, written.entry.id)


def insert_session(
    patient: Patient,
    nurse: User,
    clinician: User | None = None,
    *,
    started_at: datetime,
    route: Route = Route.IV,
    indication: Indication | None = None,
    **extra: Any,
) -> InfusionSession:
    """A session inserted directly (no audit, no checks): any status, any staff (the nurse
    attends too unless a clinician is given); `extra` sets further columns (status=...)."""
    infusion_session = InfusionSession(
        patient_id=patient.id,
        indication=indication or patient.indication,
        route=route,
        attending_clinician_id=(clinician or nurse).id,
        nurse_id=nurse.id,
        started_at=started_at,
        created_by_id=nurse.id,
        **extra,
    )
    db.session.add(infusion_session)
    db.session.commit()
    return infusion_session


def open_session_as(user: User) -> InfusionSession:
    """A new depression patient and a session started an hour ago, the user as nurse and
    attending, inserted directly: for tests of what is charted, not of who may open it."""
    patient = make_patient(
        Indication.DEPRESSION, date_of_birth=date(1980, 1, 1), allergies=None, created_by=user
    )
    return insert_session(patient, user, started_at=utcnow() - timedelta(hours=1))


def insert_administration(
    session_id: int,
    user_id: int,
    dose: str = "35",
    *,
    dose_unit: str = "mg",
    route: Route = Route.IV,
    started_at: datetime | None = None,
    **extra: Any,
) -> Administration:
    """An administration row inserted directly (40 minutes ago unless given); `extra` sets
    further columns (method=..., voided_at=...)."""
    values: dict[str, Any] = {"drug": "Ketamine hydrochloride", "method": Method.INFUSION} | extra
    administration = Administration(
        session_id=session_id,
        route=route,
        dose_amount=Decimal(dose),
        dose_unit=dose_unit,
        started_at=started_at or utcnow() - timedelta(minutes=40),
        recorded_by_id=user_id,
        **values,
    )
    db.session.add(administration)
    db.session.commit()
    return administration


def insert_monitoring(session_id: int, user_id: int) -> MonitoringEntry:
    """A monitoring row (BP 128/80, HR 72) from 20 minutes ago, inserted directly."""
    entry = MonitoringEntry(
        session_id=session_id,
        phase=Phase.DURING,
        occurred_at=utcnow() - timedelta(minutes=20),
        systolic_bp=128,
        diastolic_bp=80,
        heart_rate=72,
        recorded_by_id=user_id,
    )
    db.session.add(entry)
    db.session.commit()
    return entry


def insert_infusion_event(administration: Administration, user_id: int) -> InfusionEvent:
    """A 'paused' event of the administration from 10 minutes ago, inserted directly."""
    event = InfusionEvent(
        session_id=administration.session_id,
        administration_id=administration.id,
        kind=InfusionEventKind.PAUSED,
        occurred_at=utcnow() - timedelta(minutes=10),
        recorded_by_id=user_id,
    )
    db.session.add(event)
    db.session.commit()
    return event


def insert_pain_score(session_id: int, user_id: int, total: int = 4) -> Score:
    """A pain NRS score (before) from 30 minutes ago, inserted directly."""
    score = Score(
        session_id=session_id,
        instrument=Instrument.PAIN_NRS,
        timing=ScoreTiming.BEFORE,
        occurred_at=utcnow() - timedelta(minutes=30),
        answers=[total],
        total=total,
        recorded_by_id=user_id,
    )
    db.session.add(score)
    db.session.commit()
    return score


def record_vitals(infusion_session: InfusionSession, nurse: User, at: datetime) -> None:
    record_monitoring(infusion_session, nurse, at, heart_rate=72)


def record_monitoring(
    infusion_session: InfusionSession,
    nurse: User,
    at: datetime,
    *,
    phase: Phase = Phase.DURING,
    **values: Any,
) -> MonitoringEntry:
    """A monitoring entry with the given values (systolic_bp=172, nausea=Nausea.VOMITED, ...)."""
    written = monitoring_services.record_monitoring(
        nurse,
        infusion_session.id,
        MonitoringDetails(phase=phase, occurred_at=at, **values),
        None,
    )
    db.session.commit()
    return db.session.get(MonitoringEntry, written.entry.id)


def order_for(
    infusion_session: InfusionSession,
    drug: str = "Ketamine hydrochloride",
    dose: str = "0.5",
    unit: str = "mg/kg",
    *,
    method: Method = Method.INFUSION,
    route: Route | None = None,
    kind: OrderKind = OrderKind.TREATMENT,
    indication: str = "",
    min_interval_minutes: int | None = None,
    max_doses_per_session: int | None = None,
) -> MedicationOrder:
    """An order in force for the session's course (for the session itself when it has no
    course) saying exactly this, signed by the session's attending clinician: one already in
    force when there is, else recorded by the orders service as signed (no password typed), for
    tests of what is charted against it."""
    route = route or infusion_session.route
    course_id = infusion_session.course_id
    session_id = None if course_id is not None else infusion_session.id
    found = db.session.scalar(
        sa.select(MedicationOrder).where(
            MedicationOrder.course_id.is_(course_id)
            if course_id is None
            else MedicationOrder.course_id == course_id,
            MedicationOrder.session_id.is_(None)
            if session_id is None
            else MedicationOrder.session_id == session_id,
            MedicationOrder.status == OrderStatus.ACTIVE,
            MedicationOrder.kind == kind,
            MedicationOrder.drug == drug,
            MedicationOrder.dose_amount == Decimal(dose),
            MedicationOrder.dose_unit == unit,
            MedicationOrder.route == route,
            MedicationOrder.method == method,
            MedicationOrder.min_interval_minutes.is_(min_interval_minutes)
            if min_interval_minutes is None
            else MedicationOrder.min_interval_minutes == min_interval_minutes,
            MedicationOrder.max_doses_per_session.is_(max_doses_per_session)
            if max_doses_per_session is None
            else MedicationOrder.max_doses_per_session == max_doses_per_session,
        )
    )
    if found is not None:
        return found
    # Through the service, so the order has its audit trail (`flask audit verify` checks it).
    saved = record_signed_order(
        infusion_session.attending_clinician,
        infusion_session.patient_id,
        OrderDetails(
            kind=kind,
            drug=drug,
            dose_amount=Decimal(dose),
            dose_unit=unit,
            route=route,
            method=method,
            indication=indication,
            min_interval_minutes=min_interval_minutes,
            max_doses_per_session=max_doses_per_session,
        ),
        None,
        course_id=course_id,
        session_id=session_id,
    )
    db.session.commit()
    return saved.entry


def record_administration(
    infusion_session: InfusionSession,
    user: User,
    dose: str = "0.5",
    unit: str = "mg/kg",
    *,
    method: Method = Method.INFUSION,
    started_at: datetime,
    ended_at: datetime | None = None,
    drug: str = "Ketamine hydrochloride",
    order: MedicationOrder | None = None,
) -> Administration:
    """An administration through the service, as the chart's form would store it, carrying out
    `order` (by default an order in force saying exactly what is given: no deviation)."""
    order = order or order_for(infusion_session, drug, dose, unit, method=method)
    written = administrations_services.record_administration(
        user,
        infusion_session.id,
        AdministrationDetails(
            drug=drug,
            route=infusion_session.route,
            method=method,
            dose_amount=Decimal(dose),
            dose_unit=unit,
            rate_amount=None,
            rate_unit=None,
            started_at=started_at,
            ended_at=ended_at,
            site="",
            lot_number="",
            ordering_clinician_id=None,
            note="",
            order_id=order.id,
        ),
        None,
    )
    db.session.commit()
    return db.session.get(Administration, written.entry.id)


def phq9_answers(total: int, item9: int = 0) -> list[int]:
    """Nine answers adding up to `total`, with item 9 as given."""
    answers = [0] * 8 + [item9]
    remaining = total - item9
    for index in range(8):
        answers[index] = min(3, remaining)
        remaining -= answers[index]
    assert remaining == 0, "total out of reach for these answers"
    return answers


def insert_legacy_score(
    session_id: int,
    user_id: int,
    at: datetime,
    answers: list[int],
    timing: ScoreTiming = ScoreTiming.AFTER,
) -> Score:
    """A PHQ-9 as the app before 0015 stored it (no version), inserted directly."""
    score = Score(
        session_id=session_id,
        instrument="phq9",
        timing=timing,
        occurred_at=at,
        answers=answers,
        total=sum(answers),
        risk_flag=answers[8] > 0,
        recorded_by_id=user_id,
    )
    db.session.add(score)
    db.session.flush()
    return score


def record_scores(
    infusion_session: InfusionSession,
    user: User,
    at: datetime,
    *,
    phq9_before: int | None = None,
    phq9_after: int | None = None,
    pain_before: int | None = None,
    pain_after: int | None = None,
    item9_before: int = 0,
) -> None:
    """PHQ-9 totals (built from answers) and pain scores, through the services. A PHQ-9 "after"
    is one the record holds from before 0015 (the form then asked before and after): inserted as
    it was stored, with no instrument version."""
    if phq9_before is not None:
        record_phq9(
            user,
            infusion_session.id,
            timing=ScoreTiming.BEFORE,
            occurred_at=at,
            answers=phq9_answers(phq9_before, item9_before),
        )
    if phq9_after is not None:
        insert_legacy_score(infusion_session.id, user.id, at, phq9_answers(phq9_after))
    for timing, pain in ((ScoreTiming.BEFORE, pain_before), (ScoreTiming.AFTER, pain_after)):
        if pain is not None:
            record_pain(user, infusion_session.id, timing=timing, occurred_at=at, score=pain)
    db.session.commit()


def complete_checklist(
    infusion_session: InfusionSession,
    user: User,
    *,
    skip: int = 0,
    required_only: bool = False,
    detail: str = "Sam Doe",
) -> None:
    """Tick every active item (or only the required ones) done, leaving out the last `skip`."""
    items = active_checklist_items()
    if required_only:
        items = [item for item in items if item.required]
    for item in items[: len(items) - skip]:
        record_checklist(
            user,
            infusion_session.id,
            item.id,
            done=True,
            detail=detail if item.detail_label else None,
        )
    db.session.commit()


def make_ready_to_sign(infusion_session: InfusionSession, clinician: User) -> None:
    """An administration and every required checklist item: only the signature is missing."""
    record_administration(
        infusion_session, clinician, "35", "mg", started_at=infusion_session.started_at
    )
    complete_checklist(infusion_session, clinician, required_only=True, detail="A. Driver")


def seed_chart_records(nurse: User, clinician: User) -> dict[str, int]:
    """A patient with an open session holding an administration and a monitoring entry.

    The records (by name, as ids) that the route-wide tests put into URLs and forms.
    """
    patient = make_patient()
    infusion_session = open_session_for(patient, nurse, clinician)
    administration = record_administration(
        infusion_session, clinician, "35", "mg", started_at=infusion_session.started_at
    )
    entry = record_monitoring(infusion_session, nurse, infusion_session.started_at, spo2=97)
    return {
        "patient": patient.id,
        "consent": infusion_session.consent_id,
        "course": infusion_session.course_id,
        "order": administration.order_id,
        "session": infusion_session.id,
        "administration": administration.id,
        "monitoring_entry": entry.id,
        "checklist_item": active_checklist_items()[0].id,
    }


def sign(infusion_session: InfusionSession, clinician: User, password: str) -> None:
    sign_session(clinician, infusion_session.id, password, fresh_code(clinician))
    db.session.commit()


def seed_sessions(
    patient: Patient,
    nurse: User,
    clinician: User,
    count: int,
    *,
    first_start: datetime | None = None,
) -> list[int]:
    """`count` complete, signed sessions a week apart, inserted directly (no audit, no HTTP).

    For volume tests only: each session has an administration, two monitoring entries (one
    flagged), PHQ-9 and pain before and after, a done checklist and a signature, so every kind
    of entry the patient page reads is present for every session.
    """
    start = first_start or datetime(2024, 1, 8, 14, 0, tzinfo=UTC)
    item_ids = list(db.session.scalars(sa.select(ChecklistItem.id)))
    sessions = [
        InfusionSession(
            patient_id=patient.id,
            indication=patient.indication,
            route=Route.IV,
            attending_clinician_id=clinician.id,
            nurse_id=nurse.id,
            started_at=start + timedelta(days=7 * n),
            status=SessionStatus.SIGNED,
            created_by_id=nurse.id,
        )
        for n in range(count)
    ]
    db.session.add_all(sessions)
    db.session.flush()
    entries: list[Any] = []
    for n, s in enumerate(sessions):
        at = s.started_at + timedelta(minutes=5)
        common = {"session_id": s.id, "recorded_by_id": nurse.id}
        entries.append(
            Administration(
                **common,
                drug="Ketamine hydrochloride",
                route=Route.IV,
                method=Method.INFUSION,
                dose_amount=Decimal("0.5"),
                dose_unit="mg/kg",
                started_at=at,
                ended_at=at + timedelta(minutes=40),
            )
        )
        for minutes, systolic in ((0, 128), (40, 165)):
            entries.append(
                MonitoringEntry(
                    **common,
                    phase=Phase.DURING,
                    occurred_at=at + timedelta(minutes=minutes),
                    systolic_bp=systolic,
                    heart_rate=80,
                    spo2=97,
                )
            )
        for instrument, timing, total in (
            (Instrument.PHQ9, ScoreTiming.BEFORE, 20 - n % 15),
            (Instrument.PHQ9, ScoreTiming.AFTER, 12 - n % 10),
            (Instrument.PAIN_NRS, ScoreTiming.BEFORE, 7),
            (Instrument.PAIN_NRS, ScoreTiming.AFTER, 3),
        ):
            entries.append(
                Score(
                    **common,
                    instrument=instrument,
                    timing=timing,
                    occurred_at=at,
                    answers=[],
                    total=total,
                )
            )
        entries.extend(
            ChecklistCompletion(**common, item_id=item_id, done=True, detail="Sam Doe")
            for item_id in item_ids
        )
        entries.append(
            Signature(
                session_id=s.id,
                signer_id=clinician.id,
                signer_name=clinician.full_name,
                signer_credentials=clinician.credentials or "",
                signed_at=s.started_at + timedelta(hours=3),
                content_digest="0" * 64,
            )
        )
    db.session.add_all(entries)
    db.session.commit()
    return [s.id for s in sessions]
