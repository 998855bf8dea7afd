"""`flask audit verify` proves the records as well as the chain: every column of every clinical row
that the trail records, changed alone behind the app's back (a plain UPDATE, no service, no
event), is reported with its table, row and column, and the command exits 1; so is a row without a
trail, a row moved to another id, and a signed session that no longer hashes to its signature.

The record is built once per module through the services, as the chart writes it (a signed
session with an addendum, an unsigned one with voided entries and a discharge, a cancelled one, a
registered and edited patient, and another patient), and every case puts back what it changed.
Runs on SQLite and, with TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskCliRunner

from clinic import create_app
from clinic.auth.models import Role, User
from clinic.clinic_time import to_local
from clinic.database import UTCDateTime, utcnow
from clinic.extensions import db as _db
from clinic.orders.models import OrderKind
from clinic.orders.services import (
    OrderDetails,
    discontinue_order,
    orders_in_force,
    write_order,
)
from clinic.patients.consents.models import Consent, ConsentType
from clinic.patients.consents.services import ConsentDetails, record_consent, withdraw_consent
from clinic.patients.courses.models import CourseStatus, Protocol
from clinic.patients.courses.services import (
    CourseDetails,
    active_course,
    end_course,
    open_course,
    review_course,
)
from clinic.patients.models import Indication, Patient, Sex
from clinic.patients.services import PatientData, register_patient, update_patient
from clinic.review.record_trail import TRAILS, check_records
from clinic.sessions.models import (
    AdverseEventOutcome,
    AdverseEventSeverity,
    AdverseEventType,
    ChecklistItem,
    Dissociation,
    InfusionEventKind,
    InfusionSession,
    Method,
    Nausea,
    Phase,
    Pregnancy,
    Route,
    ScoreTiming,
)
from clinic.sessions.services.administrations import (
    AdministrationDetails,
    InfusionEventDetails,
    record_administration,
    record_infusion_event,
)
from clinic.sessions.services.adverse_events import (
    AdverseEventDetails,
    record_adverse_event,
    resolve_adverse_event,
)
from clinic.sessions.services.deviations import acknowledge_deviation
from clinic.sessions.services.discharge import (
    active_checklist_items,
    cancel_session,
    end_session,
    record_checklist,
)
from clinic.sessions.services.discharge_assessment import (
    AssessmentDetails,
    active_instructions,
    record_discharge_assessment,
)
from clinic.sessions.services.monitoring import MonitoringDetails, record_monitoring
from clinic.sessions.services.opening import SessionDetails, open_session
from clinic.sessions.services.rems import answer_ready_to_leave, mark_submitted
from clinic.sessions.services.scores import record_pain, record_phq9
from clinic.sessions.services.screening import (
    ScreeningDetails,
    override_screening,
    record_screening,
)
from clinic.sessions.services.signoff import add_addendum, sign_session
from clinic.sessions.services.voiding import void_entry
from clinic.sqlite_support import READ_SNAPSHOT
from clinic.staff.services import StaffDetails, create_user
from tests.conftest import BASE_CONFIG, PASSWORD, DatabaseFactory
from tests.factories import phq9_answers
from tests.helpers import minute
from tests.second_factor_codes import enrol, fresh_code

SIGNATURE_BROKEN = "no longer matches its signature"


# --- the record ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    signed: int  # session signed, with an addendum
    unsigned: int  # session with voided entries and a discharge
    cancelled: int  # session of the other patient, cancelled
    patient: int
    other_patient: int


def staff(role: Role, name: str) -> User:
    user = create_user(
        None,
        f"{role.value}-{name}",
        StaffDetails(
            full_name=f"Test {name}", credentials="RN" if role == Role.NURSE else "MD", role=role
        ),
        PASSWORD,
        must_change_password=False,
    )
    _db.session.commit()
    return user


def registered(nurse: User, mrn: str, family_name: str) -> Patient:
    patient = register_patient(
        nurse,
        PatientData(
            mrn=mrn,
            family_name=family_name,
            given_name="Alex",
            date_of_birth=date(1979, 6, 14),
            sex=Sex.FEMALE,
            allergies="Sulfonamides (rash)",
            indication=Indication.BOTH,
            emergency_contact_name="Sam Doe",
            emergency_contact_phone="555 0100",
        ),
    )
    _db.session.commit()
    return patient


def consented(nurse: User, clinician: User, patient: Patient, other: Patient) -> None:
    """Each patient's consent for IV, one with an expiry and a note; and one withdrawn."""
    types = {t.route: t.id for t in _db.session.scalars(sa.select(ConsentType))}
    for who, details in (
        (
            patient,
            ConsentDetails(types[Route.IV], "IV ketamine", "4", date(2025, 1, 6), "A. Witness"),
        ),
        (
            other,
            ConsentDetails(
                types[Route.IV],
                "IV ketamine",
                "4",
                date(2025, 2, 3),
                "B. Witness",
                valid_until=date(2999, 1, 1),
                note="Read aloud to the patient",
            ),
        ),
        (
            patient,
            ConsentDetails(types[Route.IM], "IM ketamine", "1", date(2025, 1, 6), "A. Witness"),
        ),
    ):
        record_consent(nurse, who.id, details, None)
    _db.session.commit()
    withdrawn = _db.session.scalar(sa.select(sa.func.max(Consent.id)))
    withdraw_consent(clinician, patient.id, withdrawn, "Prefers the IV route only")
    _db.session.commit()
    for who, details in (
        (
            patient,
            CourseDetails(Indication.DEPRESSION, Protocol.INDUCTION, "6 IV", 6, date.today()),
        ),
        (
            other,
            CourseDetails(
                Indication.BOTH,
                Protocol.OTHER,
                "Trial of IM",
                3,
                date.today() - timedelta(days=7),
                review_due=date.today() + timedelta(days=14),
            ),
        ),
    ):
        course = open_course(clinician, who.id, details, None).entry
        review_course(clinician, who.id, course.id, date.today(), "Responding well", None)
    _db.session.commit()


def ordered(clinician: User, patient: Patient, other: Patient) -> None:
    """The patient's course: a treatment order and a PRN order, every field filled somewhere.
    The other's: an IM order, superseded by a new one, which is then discontinued."""
    course = active_course(patient.id).id
    for details in (
        OrderDetails(
            OrderKind.TREATMENT,
            "Ketamine hydrochloride",
            Decimal("0.5"),
            "mg/kg",
            Route.IV,
            Method.INFUSION,
            concentration="10 mg/mL",
            rate_or_duration="over 40 minutes",
            note="0.5 mg/kg for 68 kg",
        ),
        OrderDetails(
            OrderKind.PRN,
            "Ondansetron",
            Decimal("4"),
            "mg",
            Route.IV,
            Method.BOLUS,
            indication="Nausea",
            min_interval_minutes=30,
            max_doses_per_session=2,
        ),
    ):
        write_order(clinician, patient.id, details, PASSWORD, None, course_id=course)
    first = write_order(
        clinician,
        other.id,
        OrderDetails(
            OrderKind.TREATMENT,
            "Ketamine hydrochloride",
            Decimal("35"),
            "mg",
            Route.IM,
            Method.INJECTION,
        ),
        PASSWORD,
        None,
        course_id=active_course(other.id).id,
    ).entry
    second = write_order(
        clinician,
        other.id,
        OrderDetails(
            OrderKind.TREATMENT,
            "Ketamine hydrochloride",
            Decimal("40"),
            "mg",
            Route.IM,
            Method.INJECTION,
        ),
        PASSWORD,
        None,
        supersedes_id=first.id,
    ).entry
    discontinue_order(clinician, other.id, second.id, "Blood pressure peaks")
    _db.session.commit()


def opened(nurse: User, clinician: User, patient: Patient, start: datetime) -> int:
    written = open_session(
        nurse,
        patient.id,
        SessionDetails(
            indication=Indication.DEPRESSION,
            route=Route.IV,
            attending_clinician_id=clinician.id,
            nurse_id=nurse.id,
            started_at=start,
            fasting_confirmed=False,
            weight_kg=Decimal("68.4"),
            course_id=active_course(patient.id).id,
        ),
        None,
    )
    _db.session.commit()
    return written.entry.id


def charted(nurse: User, clinician: User, session_id: int, start: datetime) -> dict[str, int]:
    """A full chart: every kind of entry with every field it takes filled somewhere. The PRN
    bolus deviates from its order (8 mg given, 4 mg ordered) and is acknowledged."""
    course_id = _db.session.get(InfusionSession, session_id).course_id
    orders = {order.kind: order.id for order in orders_in_force(course_id, None)}

    def at(minutes: int) -> datetime:
        # As the chart's form enters it: clinic time, whole minutes.
        return to_local(start + timedelta(minutes=minutes))

    # Screened a no-go, overridden by the clinician, then corrected: every screening column filled.
    screened = ScreeningDetails(
        occurred_at=at(0),
        pregnancy=Pregnancy.POSITIVE,
        last_solid_food_at=at(-500),
        last_clear_fluid_at=at(-200),
        concomitant_medicines=["benzodiazepine"],
        alcohol_or_drugs=True,
        new_problems="Cold last week",
        suicidality_positive=True,
        escort_present=True,
        escort_name="Sam Doe",
        escort_relationship="Partner",
        escort_phone="555-0100",
        note="Screened in the chair",
    )
    screening = record_screening(nurse, session_id, screened, None, None).entry
    override_screening(clinician, session_id, "Home test was a false positive")
    _db.session.flush()
    record_screening(
        nurse,
        session_id,
        # The suicidality answer corrected too: a positive one would make the C-SSRS due
        # before this record's discharge.
        replace(
            screened,
            pregnancy=Pregnancy.NEGATIVE,
            suicidality_positive=False,
            note="Repeat test negative",
        ),
        screening.version,
        None,
    )
    infusion = record_administration(
        nurse,
        session_id,
        AdministrationDetails(
            drug="Ketamine hydrochloride",
            route=Route.IV,
            method=Method.INFUSION,
            dose_amount=Decimal("0.5"),
            dose_unit="mg/kg",
            rate_amount=Decimal("0.0125"),
            rate_unit="mg/kg/min",
            started_at=at(5),
            ended_at=at(45),
            site="Left antecubital",
            lot_number="LOT-2291",
            ordering_clinician_id=clinician.id,
            note="Over 40 minutes",
            order_id=orders[OrderKind.TREATMENT],
            concentration="10 mg/mL",
            volume_ml=Decimal("3.5"),
        ),
        None,
    ).entry
    # Nausea, with the actions taken; the ondansetron below is the rescue given for it. The
    # event is resolved afterwards; a second one is recorded resolved at once.
    nausea = record_adverse_event(
        nurse,
        session_id,
        AdverseEventDetails(
            occurred_at=at(18),
            type=AdverseEventType.NAUSEA_VOMITING,
            severity=AdverseEventSeverity.MODERATE,
            actions=["infusion_slowed", "medication"],
            note="Retching",
        ),
        None,
    ).entry
    record_adverse_event(
        nurse,
        session_id,
        AdverseEventDetails(
            occurred_at=at(30),
            type=AdverseEventType.HYPERTENSION,
            severity=AdverseEventSeverity.MILD,
            resolved_at=at(40),
            outcome=AdverseEventOutcome.RESOLVED,
        ),
        None,
    )
    bolus = record_administration(
        nurse,
        session_id,
        AdministrationDetails(
            drug="Ondansetron",
            route=Route.IV,
            method=Method.BOLUS,
            dose_amount=Decimal("8"),
            dose_unit="mg",
            rate_amount=None,
            rate_unit=None,
            started_at=at(20),
            ended_at=None,
            site="",
            lot_number="",
            ordering_clinician_id=None,
            note="",
            order_id=orders[OrderKind.PRN],
            adverse_event_id=nausea.id,
        ),
        None,
    ).entry
    resolve_adverse_event(clinician, session_id, nausea.id, at(35), AdverseEventOutcome.RESOLVED)
    acknowledge_deviation(clinician, session_id, bolus.id, "Nausea persisted; 8 mg agreed")
    for details in (
        InfusionEventDetails(
            InfusionEventKind.RATE_CHANGED, at(15), Decimal("0.01"), "mg/kg/min", note="BP up"
        ),
        InfusionEventDetails(
            InfusionEventKind.BOLUS, at(25), bolus_amount=Decimal("5"), bolus_unit="mg"
        ),
    ):
        record_infusion_event(nurse, session_id, infusion.id, details, None)
    vitals = record_monitoring(
        nurse,
        session_id,
        MonitoringDetails(
            phase=Phase.DURING,
            occurred_at=at(10),
            systolic_bp=128,
            diastolic_bp=80,
            heart_rate=72,
            spo2=97,
            respiratory_rate=14,
            temperature_c=Decimal("36.6"),
            sedation_moaas=4,
            dissociation=Dissociation.MILD,
            nausea=Nausea.NONE,
            pain_nrs=2,
            note="Comfortable",
        ),
        None,
    ).entry
    record_monitoring(
        nurse,
        session_id,
        MonitoringDetails(phase=Phase.RECOVERY, occurred_at=at(50), spo2=98),
        None,
    )
    record_phq9(
        nurse, session_id, timing=ScoreTiming.BEFORE, occurred_at=at(0), answers=phq9_answers(12)
    )
    record_pain(nurse, session_id, timing=ScoreTiming.BEFORE, occurred_at=at(0), score=6)
    items = active_checklist_items()
    for item in items[:-1]:
        record_checklist(
            nurse, session_id, item.id, done=True, detail="A. Driver" if item.detail_label else None
        )
    record_checklist(
        nurse,
        session_id,
        items[-1].id,
        done=False,
        not_done_reason="Patient asleep",
        note="Checked again at 15:10",
    )
    _db.session.commit()
    instruction = active_instructions()[0].id
    for minutes, score in ((60, 2), (65, 1)):  # the second is voided on the unsigned session
        record_discharge_assessment(
            nurse,
            session_id,
            AssessmentDetails(at(minutes), score, 2, 2, score, 2, True, instruction, "Steady"),
            None,
        )
    return {"infusion": infusion.id, "bolus": bolus.id, "vitals": vitals.id}


def rems_form_of(nurse: User, clinician: User, session_id: int, start: datetime) -> None:
    """A device of esketamine nasal spray on the session, and its REMS form answered and
    submitted: the form's row (issue 16) in the record's scope."""
    course_id = _db.session.get(InfusionSession, session_id).course_id
    orders = {order.kind: order.id for order in orders_in_force(course_id, None)}
    record_administration(
        nurse,
        session_id,
        AdministrationDetails(
            drug="Esketamine nasal spray",
            route=Route.INTRANASAL,
            method=Method.SPRAY,
            dose_amount=Decimal("28"),
            dose_unit="mg",
            rate_amount=None,
            rate_unit=None,
            started_at=to_local(start + timedelta(minutes=10)),
            ended_at=None,
            site="",
            lot_number="ESK-1",
            ordering_clinician_id=clinician.id,
            note="",
            order_id=orders[OrderKind.TREATMENT],
        ),
        None,
    )
    answer_ready_to_leave(nurse, session_id, 95)
    mark_submitted(clinician, session_id, to_local(utcnow()).date())
    _db.session.commit()


def build_record() -> Record:
    nurse, clinician = staff(Role.NURSE, "nora"), staff(Role.CLINICIAN, "sam")
    enrol(clinician)  # signing takes her second factor's code
    staff(Role.CLINICIAN, "other")  # someone else to point a row at
    patient = registered(nurse, "REC-0001", "Record")
    other = registered(nurse, "REC-0002", "Other")
    edited = replace(
        PatientData(**{k: getattr(patient, k) for k in PatientData.__dataclass_fields__}),
        allergies="Sulfonamides (rash), latex",
        emergency_contact_phone="555 0199",
    )
    update_patient(clinician, patient, edited, patient.version)
    _db.session.commit()

    consented(nurse, clinician, patient, other)
    ordered(clinician, patient, other)

    start = minute(utcnow()) - timedelta(hours=3)
    signed = opened(nurse, clinician, patient, start)
    charted(nurse, clinician, signed, start)
    sign_session(clinician, signed, PASSWORD, fresh_code(clinician))
    _db.session.commit()
    add_addendum(clinician, signed, text="Called the next day: well.", reason="Follow-up")
    _db.session.commit()

    start = minute(utcnow()) - timedelta(hours=2)
    unsigned = opened(nurse, clinician, patient, start)
    rescue = OrderDetails(
        OrderKind.PRN,
        "Midazolam",
        Decimal("1"),
        "mg",
        Route.IV,
        Method.BOLUS,
        indication="Agitation",
    )
    write_order(clinician, patient.id, rescue, PASSWORD, None, session_id=unsigned)
    _db.session.commit()
    ids = charted(nurse, clinician, unsigned, start)
    for kind, model in (
        ("administration", "bolus"),
        ("monitoring", "vitals"),
    ):
        void_entry(clinician, unsigned, kind, ids[model], "Wrong patient's chart")
    for kind, table in (
        ("infusion_event", "infusion_event"),
        ("score", "score"),
        ("checklist", "checklist_completion"),
        ("adverse_event", "adverse_event"),
        ("discharge_assessment", "discharge_assessment"),
    ):
        newest = _db.session.scalar(
            sa.text(f"SELECT max(id) FROM {table} WHERE session_id = :s"), {"s": unsigned}
        )
        void_entry(clinician, unsigned, kind, newest, "Entered twice")
    _db.session.commit()
    version = _db.session.get(InfusionSession, unsigned).version
    # Before the route's 30 minutes after the infusion's end (at 45): a clinician's override.
    end_session(
        clinician,
        unsigned,
        to_local(start + timedelta(minutes=70)),
        "Sam Doe",
        version,
        override_reason="Recovered; escort must leave",
    )
    _db.session.commit()
    rems_form_of(nurse, clinician, unsigned, start)

    cancelled = opened(nurse, clinician, other, minute(utcnow()) - timedelta(hours=1))
    cancel_session(clinician, cancelled, "BP 190/110 at baseline")
    _db.session.commit()
    ended = active_course(other.id)
    end_course(clinician, other.id, ended.id, CourseStatus.DISCONTINUED, "BP peaks every session")
    _db.session.commit()
    return Record(signed, unsigned, cancelled, patient.id, other.id)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, Record]]:
    """The record, built once in a database of its own; every case puts back what it changes."""
    factory = DatabaseFactory(tmp_path_factory.mktemp("records"))
    try:
        application = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": factory.url})
        with application.app_context():
            try:
                yield application, build_record()
            finally:
                _db.session.remove()
                _db.engine.dispose()
    finally:
        factory.drop_all()


@pytest.fixture
def record(built: tuple[Flask, Record]) -> Record:
    _db.session.rollback()
    return built[1]


@pytest.fixture
def runner(built: tuple[Flask, Record]) -> FlaskCliRunner:
    return built[0].test_cli_runner()


def verify(runner: FlaskCliRunner) -> tuple[int, list[str]]:
    _db.session.commit()
    _db.session.close()  # the command reads in a snapshot of its own, as from the shell
    result = runner.invoke(args=["audit", "verify"])
    return result.exit_code, result.output.strip().splitlines()


def write(table: sa.Table, row_id: int, column: str, value: Any) -> None:
    """A plain UPDATE, committed: no service, no audit event, no lock."""
    _db.session.execute(sa.update(table).where(table.c.id == row_id).values({column: value}))
    _db.session.commit()


@contextmanager
def tampered(table: sa.Table, row_id: int, column: str, value: Any) -> Iterator[None]:
    original = _db.session.scalar(sa.select(table.c[column]).where(table.c.id == row_id))
    write(table, row_id, column, value)
    try:
        yield
    finally:
        _db.session.rollback()
        write(table, value if column == "id" else row_id, column, original)


@contextmanager
def written_raw(table: str, row_id: int, column: str, value: str) -> Iterator[None]:
    """A value stored as given, past the column type's own checks (as the sqlite3 shell would)."""
    select = sa.text(f"SELECT {column} FROM {table} WHERE id = :id")
    update = sa.text(f"UPDATE {table} SET {column} = :value WHERE id = :id")
    original = _db.session.scalar(select, {"id": row_id})
    _db.session.execute(update, {"id": row_id, "value": value})
    _db.session.commit()
    try:
        yield
    finally:
        _db.session.rollback()
        _db.session.execute(update, {"id": row_id, "value": original})
        _db.session.commit()


# --- intact -------------------------------------------------------------------------------------


def test_an_untouched_record_matches_its_trail(record, runner):
    code, lines = verify(runner)
    rows = sum(
        _db.session.scalar(sa.select(sa.func.count()).select_from(trail.table)) for trail in TRAILS
    )
    assert code == 0, lines
    assert len(lines) == 1
    assert lines[0].startswith("Audit trail intact: ")
    assert lines[0].endswith(f" events verified, {rows} records match their trail.")
    assert rows > 30


# --- the matrix: every audited column of every table, changed alone ----------------------------


# Tables whose rows the database refuses to update (the register's ledger, migration 0016): a
# plain UPDATE cannot tamper with them here; tests/test_register.py drops the trigger to do it.
APPEND_ONLY = ("register_entry",)


def matrix_params() -> list[Any]:
    return [
        pytest.param(trail.table.name, column.name, id=f"{trail.table.name}.{column.name}")
        for trail in TRAILS
        for column in trail.columns
        if trail.table.name not in APPEND_ONLY
    ]


def scope(record: Record, table: sa.Table) -> list[sa.Row[Any]]:
    """The rows a case may change: the unsigned and cancelled sessions' (what no signature
    covers), the patients, and the signed session's signature and addenda."""
    if table.name == "patient":
        where = table.c.id.in_((record.patient, record.other_patient))
    elif "patient_id" in table.c:  # consents, courses, reviews, orders
        where = table.c.patient_id.in_((record.patient, record.other_patient))
    elif table.name == "infusion_session":
        where = table.c.id.in_((record.unsigned, record.cancelled))
    elif table.name in ("signature", "addendum"):
        where = table.c.session_id == record.signed
    else:
        where = table.c.session_id == record.unsigned
    return list(_db.session.execute(sa.select(table).where(where).order_by(table.c.id)))


def other_value(table: sa.Table, column: sa.Column[Any], value: Any) -> Any:
    """A different value of the same type that the database accepts."""
    if column.foreign_keys:
        (fk,) = column.foreign_keys
        query = sa.select(fk.column).where(fk.column != value).order_by(fk.column)
        if table.name in ("signature", "screening"):  # one per session
            query = query.where(fk.column.not_in(sa.select(table.c.session_id)))
        return _db.session.scalar(query.limit(1))
    if isinstance(value, bool):
        return not value
    if isinstance(value, enum.Enum):
        return next(member for member in type(value) if member != value)
    if isinstance(value, int):
        return value + 1
    if isinstance(value, Decimal):
        return value + Decimal(1).scaleb(-column.type.scale)  # the last decimal place
    if isinstance(value, datetime):
        return value + timedelta(minutes=1)
    if isinstance(value, date):
        return value + timedelta(days=1)
    if isinstance(value, str):
        return value[:-1] + ("y" if value.endswith("x") else "x")
    if isinstance(value, list) and value and isinstance(value[-1], str):
        return [*value[:-1], value[-1] + "x"]
    if isinstance(value, list):
        return [*value[:-1], value[-1] + 1 if value[-1] < 3 else value[-1] - 1]
    raise AssertionError(f"no change written for {column} = {value!r}: extend other_value")


def filling(table: sa.Table, column: sa.Column[Any]) -> Any:
    """A value for a column that is empty on the row (a void mark on a live entry, say)."""
    filled = _db.session.scalar(sa.select(column).where(column.isnot(None)).limit(1))
    if filled is not None:
        return other_value(table, column, filled)
    if isinstance(column.type, UTCDateTime):
        return utcnow()
    if isinstance(column.type, sa.String):
        return "Written behind the app's back"
    raise AssertionError(f"no value for empty {column}: extend filling")


@dataclass(frozen=True)
class Tamper:
    row_id: int
    value: Any
    what: str


def tampers(record: Record, table: sa.Table, column: sa.Column[Any]) -> list[Tamper]:
    """A changed value, and for an optional column the value removed and an empty one filled."""
    rows = scope(record, table)
    filled = next((row for row in rows if row._mapping[column] not in (None, "")), None)
    empty = next((row for row in rows if row._mapping[column] in (None, "")), None)
    found = []
    if filled is not None:
        value = filled._mapping[column]
        found.append(Tamper(filled.id, other_value(table, column, value), "changed"))
        if column.nullable:
            found.append(Tamper(filled.id, None, "emptied"))
    if empty is not None:
        found.append(Tamper(empty.id, filling(table, column), "filled"))
    assert found, f"no row of {table.name} in the record's scope"
    return found


@pytest.mark.parametrize(("table_name", "column_name"), matrix_params())
def test_a_column_changed_behind_the_app_is_reported_with_its_row(
    record, runner, table_name, column_name
):
    table = _db.metadata.tables[table_name]
    for tamper in tampers(record, table, table.c[column_name]):
        with tampered(table, tamper.row_id, column_name, tamper.value):
            code, lines = verify(runner)
            case = f"{table_name}.{column_name} {tamper.what} on row {tamper.row_id}"
            assert code == 1, case
            reported = f"record BROKEN: {table_name} {tamper.row_id} {column_name} "
            assert any(line.startswith(reported) for line in lines), (case, lines)
            # Nothing else is reported but a signature: the signature row itself, or the signed
            # session an entry was moved into.
            signature_touched = table_name == "signature" or column_name == "session_id"
            others = [
                line
                for line in lines
                if not line.startswith(f"record BROKEN: {table_name} {tamper.row_id} ")
                and not (signature_touched and SIGNATURE_BROKEN in line)
            ]
            assert others == [], (case, others)
    assert verify(runner)[0] == 0, "the record does not match once the change is undone"


def test_the_matrix_covers_every_table_of_the_record():
    """A new table of clinical rows needs its trail (clinic/review/record_trail.py TRAILS)."""
    record_tables = {
        table.name
        for table in _db.metadata.tables.values()
        for fk in table.foreign_keys
        if fk.column.table.name in ("patient", "infusion_session")
    } | {"patient"}
    assert record_tables == {trail.table.name for trail in TRAILS}


# --- what the messages say ----------------------------------------------------------------------


def test_a_changed_heart_rate_is_reported_with_both_values(record, runner):
    entry = _db.session.scalar(
        sa.text("SELECT id FROM monitoring_entry WHERE session_id = :s AND heart_rate = 72"),
        {"s": record.unsigned},
    )
    table = _db.metadata.tables["monitoring_entry"]
    with tampered(table, entry, "heart_rate", 140):
        code, lines = verify(runner)
    assert code == 1
    assert lines == [
        f"record BROKEN: monitoring_entry {entry} heart_rate is 140, its trail says 72"
    ]


def test_a_void_cleared_in_an_unsigned_session_is_reported(record, runner):
    voided = _db.session.scalar(
        sa.text("SELECT id FROM monitoring_entry WHERE session_id = :s AND voided_at IS NOT NULL"),
        {"s": record.unsigned},
    )
    table = _db.metadata.tables["monitoring_entry"]
    when = _db.session.scalar(sa.select(table.c.voided_at).where(table.c.id == voided))
    with tampered(table, voided, "voided_at", None):
        code, lines = verify(runner)
    assert code == 1
    said = when.astimezone(UTC).isoformat(timespec="microseconds")
    assert lines == [
        f"record BROKEN: monitoring_entry {voided} voided_at is empty, its trail says {said}"
    ]


def test_text_is_named_but_not_shown(record, runner):
    table = _db.metadata.tables["patient"]
    with tampered(table, record.patient, "allergies", "None known"):
        code, lines = verify(runner)
    assert code == 1
    assert lines == [
        f"record BROKEN: patient {record.patient} allergies is not what its trail says "
        "(text, not shown)"
    ]
    assert "latex" not in lines[0] and "None known" not in lines[0]


def test_a_signed_session_changed_after_signing_is_reported(record, runner):
    dose = _db.session.scalar(
        sa.text("SELECT min(id) FROM administration WHERE session_id = :s"), {"s": record.signed}
    )
    table = _db.metadata.tables["administration"]
    with tampered(table, dose, "dose_amount", Decimal("5")):
        code, lines = verify(runner)
    assert code == 1
    assert f"record BROKEN: administration {dose} dose_amount is 5, its trail says 0.5" in lines
    assert any(
        line.startswith(f"record BROKEN: infusion_session {record.signed} {SIGNATURE_BROKEN}")
        for line in lines
    )


@pytest.mark.parametrize(
    ("column", "value", "sqlite_only"),
    [
        ("phase", "bogus", False),  # not a member of its enum
        ("occurred_at", "not a time", True),
        ("temperature_c", "warm", True),
    ],
)
def test_a_value_its_column_cannot_hold_is_reported_not_a_crash(
    record, runner, column, value, sqlite_only
):
    if sqlite_only and _db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL refuses the value itself")
    entry = _db.session.scalar(
        sa.text("SELECT min(id) FROM monitoring_entry WHERE session_id = :s"), {"s": record.signed}
    )
    with written_raw("monitoring_entry", entry, column, value):
        code, lines = verify(runner)
    assert code == 1
    assert lines[0].startswith(f"record BROKEN: monitoring_entry {entry} {column} is {value}, ")
    assert lines[1].startswith(
        f"record BROKEN: infusion_session {record.signed} {SIGNATURE_BROKEN}"
    )
    assert len(lines) == 2


def test_a_signed_session_with_its_digest_rewritten_is_reported(record, runner):
    # Entry and signature changed together: the signature's digest no longer says what the
    # trail sealed.
    table = _db.metadata.tables["signature"]
    row = _db.session.scalar(
        sa.text("SELECT id FROM signature WHERE session_id = :s"), {"s": record.signed}
    )
    with tampered(table, row, "content_digest", "0" * 64):
        code, lines = verify(runner)
    assert code == 1
    assert f"record BROKEN: signature {row} content_digest is not what its trail says " in (
        "\n".join(lines)
    )
    assert any(SIGNATURE_BROKEN in line for line in lines)


def test_a_row_moved_to_another_id_is_reported_twice(record, runner):
    table = _db.metadata.tables["monitoring_entry"]
    entry = _db.session.scalar(
        sa.text("SELECT max(id) FROM monitoring_entry WHERE session_id = :s"),
        {"s": record.unsigned},
    )
    with tampered(table, entry, "id", 9000):
        code, lines = verify(runner)
    assert code == 1
    assert lines == [
        "record BROKEN: monitoring_entry 9000 has no trail: no audit event recorded it",
        f"record BROKEN: monitoring_entry {entry} is in its trail but not in the database",
    ]


def new_patient_row(mrn: str) -> dict[str, Any]:
    return {
        "mrn": mrn,
        "family_name": "Unaudited",
        "given_name": "Sam",
        "date_of_birth": date(1990, 1, 1),
        "sex": Sex.MALE,
        "allergies": "",
        "indication": Indication.OTHER,
        "emergency_contact_name": "",
        "emergency_contact_phone": "",
        "created_at": utcnow(),
        "updated_at": utcnow(),
        "version": 1,
    }


def test_a_row_written_without_the_app_has_no_trail(record):
    # Left uncommitted (the triggers keep a committed patient for good): the check reads the
    # transaction it is called in.
    patient_id = _db.session.execute(
        sa.insert(Patient.__table__).values(new_patient_row("REC-9999")).returning(Patient.id)
    ).scalar_one()
    problems = [str(problem) for problem in check_records().problems]
    _db.session.rollback()
    assert problems == [f"patient {patient_id} has no trail: no audit event recorded it"]


def test_check_records_counts_what_it_checked(record):
    result = check_records(batch=3)  # batches smaller than a table: the paging is exercised
    assert result.ok, [str(problem) for problem in result.problems]
    assert result.checked == check_records().checked


# --- the snapshot -------------------------------------------------------------------------------


def test_the_read_snapshot_lets_writers_go_on_and_sees_none_of_their_changes(record):
    """verify reads in one snapshot: on SQLite a deferred transaction (WAL), which holds no
    write lock, so the clinic's writers are not kept waiting for the length of a check."""
    if _db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's REPEATABLE READ is its own")
    _db.session.commit()
    with _db.engine.connect() as reader:
        reader = reader.execution_options(**{READ_SNAPSHOT: True})
        with reader.begin():
            # A table without the record's triggers, so that the row can go again.
            count = sa.select(sa.func.count()).select_from(ChecklistItem)
            before = reader.scalar(count)
            with _db.engine.connect() as writer:
                # Its BEGIN IMMEDIATE would wait for a write lock, then fail.
                writer.exec_driver_sql("PRAGMA busy_timeout = 100")
                writer.execute(
                    sa.insert(ChecklistItem.__table__).values(
                        code="snapshot",
                        label="Snapshot",
                        required=False,
                        position=99,
                        active=False,
                    )
                )
                writer.commit()
            assert reader.scalar(count) == before
    _db.session.execute(sa.delete(ChecklistItem).where(ChecklistItem.code == "snapshot"))
    _db.session.commit()
