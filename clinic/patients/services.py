"""Patient registry rules: registration, versioned edits, search. Every change is audited;
callers commit.

Two people editing one patient never overwrite each other silently (DESIGN.md invariant 4): the
edit form carries the version it was loaded at, and `update_patient` compares it with the row
locked inside the write transaction. SQLAlchemy's version_id_col guards the UPDATE itself as well
(`WHERE version = ...`), so even a writer that slipped past the comparison is refused.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from clinic.audit.models import AuditEvent
from clinic.audit.services import diff, record_audit_event
from clinic.auth.models import User
from clinic.clinic_time import format_local, local_now
from clinic.extensions import db
from clinic.field_errors import FieldError
from clinic.pagination import PageNumbers
from clinic.patients.models import Indication, Patient, Sex
from clinic.submissions import (
    ReusedFormError,
    earlier_entry,
    earlier_submission,
    remember_submission,
)

EARLIEST_BIRTH_DATE = date(1900, 1, 1)
TEXT_FIELDS = (
    "mrn",
    "family_name",
    "given_name",
    "allergies",
    "emergency_contact_name",
    "emergency_contact_phone",
    "rems_patient_id",
)


class PatientError(FieldError):
    """A change to the registry refused for a reason the user can fix."""


class StalePatientError(PatientError):
    """Someone else saved the patient after this form was loaded.

    Raised before anything is written; the message is built by `stale_edit_message` once the
    caller has rolled back, since after a StaleDataError the session cannot query.
    """

    def __init__(self, patient_id: int) -> None:
        super().__init__("This record was changed by someone else while you were editing it.")
        self.patient_id = patient_id


@dataclass(frozen=True)
class PatientData:
    mrn: str
    family_name: str
    given_name: str
    date_of_birth: date
    sex: Sex
    allergies: str
    indication: Indication
    emergency_contact_name: str = ""
    emergency_contact_phone: str = ""
    rems_patient_id: str = ""

    def cleaned(self) -> PatientData:
        """Surrounding whitespace removed; the text itself (e.g. allergies) kept as typed."""
        return replace(self, **{name: getattr(self, name).strip() for name in TEXT_FIELDS})


def date_of_birth_problem(value: date, today: date) -> str | None:
    """Shared by the form and the service, so CLI and HTTP refuse the same dates."""
    if value > today:
        return "The date of birth cannot be in the future."
    if value < EARLIEST_BIRTH_DATE:
        return "The date of birth cannot be before 1900."
    return None


def _check(data: PatientData, patient_id: int | None = None) -> None:
    for name, label in (
        ("mrn", "MRN"),
        ("family_name", "family name"),
        ("given_name", "given name"),
    ):
        if not getattr(data, name):
            raise PatientError(f"Enter the {label}.", field=name)
    problem = date_of_birth_problem(data.date_of_birth, local_now().date())
    if problem:
        raise PatientError(problem, field="date_of_birth")
    if mrn_taken(data.mrn, patient_id):
        raise PatientError(MRN_TAKEN, field="mrn")


MRN_TAKEN = "This MRN belongs to another patient. Search for them instead of registering again."


def mrn_taken(mrn: str, except_patient_id: int | None = None) -> bool:
    # Case-insensitive, so "ab123" and "AB123" cannot become two patients.
    query = sa.select(Patient.id).where(sa.func.lower(Patient.mrn) == mrn.strip().lower())
    if except_patient_id is not None:
        query = query.where(Patient.id != except_patient_id)
    return db.session.scalar(query.limit(1)) is not None


def snapshot(patient: Patient) -> dict[str, Any]:
    """The editable fields as plain values, for the audit diff."""
    return {
        "mrn": patient.mrn,
        "family_name": patient.family_name,
        "given_name": patient.given_name,
        "date_of_birth": patient.date_of_birth.isoformat(),
        "sex": patient.sex.value,
        "allergies": patient.allergies,
        "indication": patient.indication.value,
        "emergency_contact_name": patient.emergency_contact_name,
        "emergency_contact_phone": patient.emergency_contact_phone,
        "rems_patient_id": patient.rems_patient_id,
    }


def _apply(patient: Patient, data: PatientData) -> None:
    for name, value in asdict(data).items():
        setattr(patient, name, value)


def _flush_unique_mrn(patient: Patient) -> None:
    """Flush, turning a lost race on the MRN's unique constraint into a field message."""
    try:
        with db.session.begin_nested():
            db.session.flush([patient])
    except IntegrityError as error:
        raise PatientError(MRN_TAKEN, field="mrn") from error


def registered_earlier(actor: User, submission_key: str | None) -> Patient | None:
    """The patient an earlier post of this very registration form registered, if any.

    Raises ReusedFormError when the key comes back from someone else or with other values.
    """
    earlier = earlier_entry(Patient, submission_key, actor=actor, belongs=lambda patient: True)
    return earlier.entry if earlier else None


def registered_with_key(actor: User, submission_key: str | None) -> Patient | None:
    """The patient this person registered with this form's key, whatever values it carried."""
    submission = earlier_submission(submission_key)
    if submission is None or submission.user_id != actor.id or submission.entity != "patient":
        return None
    return db.session.get(Patient, submission.entity_id) if submission.entity_id else None


def register_patient(actor: User, data: PatientData, submission_key: str | None = None) -> Patient:
    data = data.cleaned()
    _check(data)
    patient = Patient(created_by_id=actor.id)
    _apply(patient, data)
    db.session.add(patient)
    _flush_unique_mrn(patient)
    remember_submission(submission_key, actor.id, Patient.__tablename__, patient.id)
    try:
        db.session.flush()  # the caller rolls back on ReusedFormError
    except IntegrityError as error:
        # The same key, in flight at the same time with other values, was stored first.
        raise ReusedFormError from error
    record_audit_event(
        actor_id=actor.id,
        action="patient_registered",
        entity="patient",
        entity_id=patient.id,
        patient_id=patient.id,
        changes={**snapshot(patient), "created_at": patient.created_at.isoformat()},
    )
    return patient


def _lock(patient: Patient) -> Patient:
    # Re-read under a row lock (PostgreSQL; SQLite transactions are BEGIN IMMEDIATE) so the
    # version compared below is the one our UPDATE will replace.
    locked = db.session.scalar(
        sa.select(Patient)
        .where(Patient.id == patient.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if locked is None:
        raise PatientError("This patient record no longer exists.")
    return locked


def update_patient(actor: User, patient: Patient, data: PatientData, expected_version: int) -> bool:
    """Save an edit made on the form loaded at `expected_version`. True if anything changed."""
    data = data.cleaned()
    patient = _lock(patient)
    if patient.version != expected_version:
        raise StalePatientError(patient.id)
    _check(data, patient_id=patient.id)
    before = snapshot(patient)
    _apply(patient, data)
    changes = diff(before, snapshot(patient))
    if not changes:
        return False  # nothing to write: no new version, no audit noise
    try:
        _flush_unique_mrn(patient)
    except StaleDataError as error:
        raise StalePatientError(patient.id) from error
    record_audit_event(
        actor_id=actor.id,
        action="patient_updated",
        entity="patient",
        entity_id=patient.id,
        patient_id=patient.id,
        changes=changes,
    )
    return True


def record_patient_viewed(actor: User, patient: Patient, action: str = "patient_viewed") -> None:
    """DESIGN.md invariant 6: every view of a patient's record, exports included, is audited
    (ids only)."""
    record_audit_event(
        actor_id=actor.id,
        action=action,
        entity="patient",
        entity_id=patient.id,
        patient_id=patient.id,
    )


def last_change(patient_id: int) -> AuditEvent | None:
    return db.session.scalar(
        sa.select(AuditEvent)
        .where(
            AuditEvent.entity == "patient",
            AuditEvent.entity_id == str(patient_id),
            AuditEvent.action.in_(("patient_updated", "patient_registered")),
        )
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )


def stale_edit_message(patient_id: int) -> str:
    event = last_change(patient_id)
    who = event.actor.display_name if event and event.actor else "Someone else"
    when = _short_time(event.occurred_at) if event else "a moment ago"
    return (
        f"{who} changed this record at {when}, after you opened it. Nothing of yours was saved. "
        "Review their changes below, adjust your entries if needed, and save again."
    )


def _short_time(moment: datetime) -> str:
    same_day = format_local(moment, "%Y-%m-%d") == local_now().strftime("%Y-%m-%d")
    return format_local(moment, "%H:%M" if same_day else "%Y-%m-%d %H:%M")


def search_statement(text: str) -> sa.Select[tuple[Patient]]:
    """Patients matching `text`, by name or MRN, case-insensitive and partial.

    "Smith, Jo" searches family then given name; otherwise every word must match a name or the
    MRN, so "jo smi" finds Jo Smith.
    """
    query = sa.select(Patient)
    text = text.strip()
    if "," in text:
        family, given = (part.strip() for part in text.split(",", 1))
        if family:
            query = query.where(_contains(Patient.family_name, family))
        if given:
            query = query.where(_contains(Patient.given_name, given))
    else:
        # Names and MRN lowered as one text, not each apart: lower() on every patient is most of
        # what a search costs the database, and a contains-match scans them all either way. A
        # newline joins them, which a word (split on whitespace) never holds, so no word can
        # match across two fields.
        searchable = sa.func.lower(
            Patient.family_name + "\n" + Patient.given_name + "\n" + Patient.mrn
        )
        for word in text.split():
            query = query.where(_contains(searchable, word, lowered=True))
    return query.order_by(
        sa.func.lower(Patient.family_name), sa.func.lower(Patient.given_name), Patient.id
    )


@dataclass(frozen=True)
class SearchPage(PageNumbers):
    """One page of the patient list, with what the template's pagination needs."""

    items: list[Patient] = field(default_factory=list)


def search_page(text: str, page: int, per_page: int) -> SearchPage:
    """One page of `search_statement`, counting the matches only when the page cannot tell.

    A page with fewer rows than fit on it is the last: its rows give the total, and the COUNT
    (a scan of every patient for a contains-match) is left out. Most searches look for one
    patient by name or MRN and fit on their first page.
    """
    page = max(page, 1)
    statement = search_statement(text)
    items = list(db.session.scalars(statement.limit(per_page).offset((page - 1) * per_page)))
    # Counted only when the page cannot tell: it is full, or empty past the first page.
    if 0 < len(items) < per_page or (page == 1 and not items):
        total = (page - 1) * per_page + len(items)
    else:
        total = db.session.scalar(
            sa.select(sa.func.count()).select_from(statement.order_by(None).subquery())
        )
    return SearchPage(page, per_page, total or 0, items)


def _contains(column: Any, fragment: str, lowered: bool = False) -> sa.ColumnElement[bool]:
    # autoescape: a typed % or _ is matched literally, not as a wildcard.
    text = column if lowered else sa.func.lower(column)
    return text.contains(fragment.lower(), autoescape=True)


def age_on(date_of_birth: date, today: date) -> int:
    had_birthday = (today.month, today.day) >= (date_of_birth.month, date_of_birth.day)
    return today.year - date_of_birth.year - (0 if had_birthday else 1)
