"""`flask seed-demo`: a demo nurse, clinician and patient with a history of sessions.

For development, screenshots and demonstrations, never production. Everything is written through
the same services the pages use, so the demo record carries audit events, versions and signatures
exactly like a real one (and `flask audit verify` passes on it).

The doses below are demo data typed in here as a clinician would type them; like everything in
the app they are stored as given, not computed from anything.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal

import click
import pyotp
import sqlalchemy as sa
from flask import current_app

from clinic.auth import second_factor
from clinic.auth.models import Role, User
from clinic.cli_checks import needs_schema
from clinic.database import utcnow
from clinic.extensions import db
from clinic.orders.models import OrderKind
from clinic.orders.services import OrderDetails, write_order
from clinic.patients.consents.services import ConsentDetails, active_consent_types, record_consent
from clinic.patients.courses.models import Protocol
from clinic.patients.courses.services import MAX_PLANNED_SESSIONS, CourseDetails, open_course
from clinic.patients.models import Indication, Patient, Sex
from clinic.patients.services import PatientData, register_patient
from clinic.sessions.models import (
    Dissociation,
    InfusionSession,
    Instrument,
    Method,
    Nausea,
    Phase,
    Route,
    ScoreTiming,
)
from clinic.sessions.services.administrations import AdministrationDetails, record_administration
from clinic.sessions.services.discharge import active_checklist_items, end_session, record_checklist
from clinic.sessions.services.monitoring import MonitoringDetails, record_monitoring
from clinic.sessions.services.opening import SessionDetails, open_session
from clinic.sessions.services.scores import ScoreEntry, record_pain, record_phq9, record_score
from clinic.sessions.services.signoff import sign_session
from clinic.staff.services import StaffDetails, StaffError, create_user

DEMO_MRN = "DEMO-0001"
NURSE_USERNAME = "demo.nurse"
CLINICIAN_USERNAME = "demo.clinician"


def _staff(username: str, full_name: str, credentials: str, role: Role, password: str) -> User:
    existing = db.session.scalar(sa.select(User).where(sa.func.lower(User.username) == username))
    if existing is not None:
        return existing
    details = StaffDetails(full_name=full_name, credentials=credentials, role=role)
    # The operator chose this password on the command line: no forced change at first sign-in.
    return create_user(None, username, details, password, must_change_password=False)


def phq9_answers(total: int, item9: int = 0) -> list[int]:
    """Nine plausible answers (0-3) adding up to `total`, item 9 as given."""
    answers = [0] * 8 + [item9]
    remaining = total - item9
    for index in range(8):
        answers[index] = min(3, remaining)
        remaining -= answers[index]
    return answers


def seed_demo(sessions: int, password: str, seed: int = 7) -> tuple[Patient, str]:
    """The demo staff, one patient and `sessions` weekly sessions ending last week; returns the
    patient and the demo clinician's authenticator key (to add to an app to sign in as her)."""
    # Not for secrets (S311): seeded so every demo is the same and screenshots stay comparable.
    rng = random.Random(seed)  # noqa: S311
    nurse = _staff(NURSE_USERNAME, "Nora Reyes", "RN", Role.NURSE, password)
    clinician = _staff(CLINICIAN_USERNAME, "Dr Samuel Okafor", "MD", Role.CLINICIAN, password)
    secret = second_factor.new_secret()
    codes = _recovery_codes(clinician, secret)
    patient = register_patient(
        nurse,
        PatientData(
            mrn=DEMO_MRN,
            family_name="Demo",
            given_name="Alex",
            date_of_birth=date(1979, 6, 14),
            sex=Sex.FEMALE,
            allergies="Sulfonamides (rash)",
            indication=Indication.BOTH,
            emergency_contact_name="Sam Demo",
            emergency_contact_phone="555 0100",
        ),
    )
    today = utcnow().replace(hour=14, minute=0, second=0, microsecond=0)
    _consent(nurse, patient, today.date() - timedelta(days=7 * sessions + 7))
    course = open_course(
        clinician,
        patient.id,
        CourseDetails(
            indication=Indication.BOTH,
            protocol=Protocol.OTHER,
            protocol_name="Weekly IV infusions with IM or intranasal when needed",
            planned_sessions=min(max(sessions, 1), MAX_PLANNED_SESSIONS),
            start_date=today.date() - timedelta(days=7 * sessions),
            review_due=today.date() + timedelta(days=7),
        ),
        None,
    ).entry
    orders = _orders(clinician, patient, course.id, password)
    # The demo writes months of history at once, as no chart at the chair is: the window that
    # refuses a session opened long after its start is widened for this run (never production).
    window = current_app.config["SESSION_START_MAX_DAYS_PAST"]
    current_app.config["SESSION_START_MAX_DAYS_PAST"] = max(window, 7 * sessions + 1)
    try:
        for number in range(sessions):
            started_at = today - timedelta(days=7 * (sessions - number))
            progress = number / max(sessions - 1, 1)  # depression lifts as the course goes on
            last = number == sessions - 1
            _chart_session(
                rng,
                nurse,
                clinician,
                patient,
                started_at,
                progress,
                password,
                sign=not last,
                codes=codes,
                course_id=course.id,
                orders=orders,
            )
    finally:
        current_app.config["SESSION_START_MAX_DAYS_PAST"] = window
    return patient, secret


def _consent(nurse: User, patient: Patient, signed_on: date) -> None:
    """The patient's consent for each route the demo sessions use, signed before the first."""
    for consent_type in active_consent_types():
        if consent_type.route in (Route.IV, Route.IM, Route.INTRANASAL):
            record_consent(
                nurse,
                patient.id,
                ConsentDetails(
                    consent_type_id=consent_type.id,
                    document_title=f"Consent to {consent_type.name}",
                    document_version="2025-1",
                    signed_on=signed_on,
                    witnessed_by="Nora Reyes, RN",
                    valid_until=signed_on + timedelta(days=365),
                ),
                None,
            )


def _orders(clinician: User, patient: Patient, course_id: int, password: str) -> dict[Route, int]:
    """The clinician's signed orders for the course, one per route the demo uses, as she would
    write them (demo data typed in here, not computed)."""
    written = {}
    for route, method, drug, amount, unit, how in (
        (Route.IV, Method.INFUSION, "Ketamine hydrochloride", "0.5", "mg/kg", "over 40 minutes"),
        (Route.IM, Method.INJECTION, "Ketamine hydrochloride", "35", "mg", ""),
        (Route.INTRANASAL, Method.SPRAY, "Esketamine", "28", "mg", "one device, 5 min apart"),
    ):
        details = OrderDetails(
            OrderKind.TREATMENT, drug, Decimal(amount), unit, route, method, rate_or_duration=how
        )
        order = write_order(clinician, patient.id, details, password, None, course_id=course_id)
        written[route] = order.entry.id
    return written


def _recovery_codes(clinician: User, secret: str) -> Iterator[str]:
    """Codes the demo clinician signs with: a signature asks for the second factor, and an
    authenticator's code works once per 30 seconds. She is enrolled with the demo's key and
    signs with its recovery codes, enrolled again for each ten (every enrolment audited)."""
    while True:
        yield from second_factor.enrol(clinician, secret, pyotp.TOTP(secret).now()) or []


def _chart_session(
    rng: random.Random,
    nurse: User,
    clinician: User,
    patient: Patient,
    started_at: datetime,
    progress: float,
    password: str,
    *,
    sign: bool,
    course_id: int,
    orders: dict[Route, int],
    codes: Iterator[str],
) -> None:
    route = rng.choices([Route.IV, Route.IM, Route.INTRANASAL], weights=[8, 1, 1])[0]
    session_id = open_session(
        nurse,
        patient.id,
        SessionDetails(
            indication=rng.choice([Indication.DEPRESSION, Indication.BOTH]),
            route=route,
            attending_clinician_id=clinician.id,
            nurse_id=nurse.id,
            started_at=started_at,
            fasting_confirmed=True,
            weight_kg=Decimal("68.40"),
            course_id=course_id,
        ),
        None,
    ).entry.id
    dosing = started_at + timedelta(minutes=15)
    if route == Route.IV:
        administrations = [(Method.INFUSION, Decimal("0.5"), "mg/kg", 40)]
    elif route == Route.IM:
        administrations = [(Method.INJECTION, Decimal("35"), "mg", None)]
    else:
        administrations = [(Method.SPRAY, Decimal("28"), "mg", None)] * 2
    for offset, (method, dose, unit, minutes) in enumerate(administrations):
        start = dosing + timedelta(minutes=5 * offset)
        record_administration(
            clinician,
            session_id,
            AdministrationDetails(
                drug="Esketamine" if route == Route.INTRANASAL else "Ketamine hydrochloride",
                route=route,
                method=method,
                dose_amount=dose,
                dose_unit=unit,
                rate_amount=None,
                rate_unit=None,
                started_at=start,
                ended_at=start + timedelta(minutes=minutes) if minutes else None,
                site="Left antecubital" if route == Route.IV else "",
                lot_number=f"K{rng.randint(1000, 9999)}",
                ordering_clinician_id=clinician.id,
                note="",
                order_id=orders[route],
            ),
            None,
        )
    rough = rng.random() < 0.15  # now and then a harder session, to show the adverse columns
    for phase, minutes in ((Phase.BASELINE, 0), (Phase.DURING, 30), (Phase.RECOVERY, 60)):
        peak = phase == Phase.DURING
        record_monitoring(
            nurse,
            session_id,
            MonitoringDetails(
                phase=phase,
                occurred_at=started_at + timedelta(minutes=minutes + 5),
                systolic_bp=rng.randint(150, 172) if peak and rough else rng.randint(112, 138),
                diastolic_bp=rng.randint(68, 88),
                heart_rate=rng.randint(62, 96),
                spo2=92 if peak and rough else rng.randint(95, 99),
                respiratory_rate=rng.randint(12, 18),
                sedation_moaas=(2 if rough else 4) if peak else 5,
                dissociation=(Dissociation.SEVERE if rough else Dissociation.MILD)
                if peak
                else Dissociation.NONE,
                nausea=Nausea.VOMITED if peak and rough else Nausea.NONE,
            ),
            None,
        )
    before = max(3, min(26, round(22 - 14 * progress + rng.randint(-2, 2))))
    anxiety = max(0, min(21, round(13 - 9 * progress + rng.randint(-2, 2))))
    scored_at = started_at + timedelta(minutes=2)
    item9 = 1 if progress < 0.2 and rng.random() < 0.5 else 0
    record_phq9(
        nurse,
        session_id,
        timing=ScoreTiming.BEFORE,
        occurred_at=scored_at,
        answers=phq9_answers(before, item9),
    )
    # GAD-7, like the PHQ-9, asks about the last two weeks: once per visit, before dosing.
    record_score(
        nurse,
        session_id,
        Instrument.GAD7,
        ScoreEntry(
            None,
            scored_at,
            {f"item{n}": min(3, max(0, anxiety - 3 * (n - 1))) for n in range(1, 8)},
        ),
    )
    if item9:  # a PHQ-9 item 9 above 0: the clinician's C-SSRS before the patient leaves
        record_score(
            clinician,
            session_id,
            Instrument.CSSRS,
            ScoreEntry(
                None,
                scored_at + timedelta(minutes=10),
                {"item1": 1, "item2": 0, "item6": 0},
                "Passive wish to be dead, no plan or intent; safety plan reviewed.",
            ),
        )
    pain = max(1, min(10, round(7 - 3 * progress + rng.randint(-1, 1))))
    pains = ((ScoreTiming.BEFORE, pain, 0), (ScoreTiming.AFTER, pain - 1, 80))
    for timing, value, minutes in pains:
        record_pain(
            nurse,
            session_id,
            timing=timing,
            occurred_at=scored_at + timedelta(minutes=minutes),
            score=max(0, value),
        )
    for item in active_checklist_items():
        record_checklist(
            nurse,
            session_id,
            item.id,
            done=True,
            detail="Sam Demo" if item.detail_label else None,
        )
    # After every route's minimum observation (ROUTE_PROFILES): esketamine's last device goes
    # in at +20 and needs 120 minutes after it; a discharge at +120 is refused since issue 14.
    end_session(
        nurse,
        session_id,
        started_at + timedelta(minutes=150),
        "Sam Demo (partner)",
        expected_version=db.session.get(InfusionSession, session_id).version,
    )
    if sign:
        sign_session(clinician, session_id, password, next(codes))


@click.command("seed-demo")
@click.option("--sessions", default=30, show_default=True, type=click.IntRange(0, 2000))
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    help="Password of the demo nurse and clinician (at least 12 characters).",
)
@needs_schema
def seed_demo_command(sessions: int, password: str) -> None:
    """Create demo staff and a demo patient with SESSIONS weekly sessions (not in production)."""
    if current_app.config["CLINIC_ENV"] == "production":
        raise click.ClickException("seed-demo refuses to run in production.")
    if db.session.scalar(sa.select(Patient.id).where(Patient.mrn == DEMO_MRN)) is not None:
        raise click.ClickException(f"The demo patient {DEMO_MRN} already exists.")
    try:
        patient, key = seed_demo(sessions, password)
    except StaffError as error:
        raise click.ClickException(error.message) from error
    db.session.commit()
    click.echo(
        f"Demo patient {patient.id} ({DEMO_MRN}) with {sessions} sessions; "
        f"staff {NURSE_USERNAME} and {CLINICIAN_USERNAME}."
    )
    # Demo data on a development database only (refused in production above).
    click.echo(f"Authenticator key of {CLINICIAN_USERNAME}: {key}")
