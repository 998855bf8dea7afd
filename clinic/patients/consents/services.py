"""Recording and withdrawing consents, and which consent covers a route on a day.

A consent is recorded once and never edited: a new document is a new consent, and one the patient
takes back is withdrawn with the reason, by whom and when. Each write is audited in the caller's
transaction with every value it stores (clinic/review/record_trail.py replays them); callers
commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from clinic.administration_terms import Route
from clinic.audit.services import diff, record_audit_event
from clinic.auth.models import User
from clinic.clinic_time import local_now
from clinic.database import utcnow
from clinic.extensions import db
from clinic.field_errors import FieldError
from clinic.patients.consents.models import Consent, ConsentState, ConsentType
from clinic.patients.models import Patient
from clinic.submissions import Saved, earlier_entry, remember_submission

EARLIEST_SIGNED_ON = date(1900, 1, 1)


class ConsentError(FieldError):
    """A consent refused for a reason the user can fix."""


class ConsentWithdrawnAlreadyError(ConsentError):
    """Someone withdrew this consent after the page was loaded."""

    def __init__(self) -> None:
        super().__init__("This consent was withdrawn already; nothing was changed.")


@dataclass(frozen=True)
class ConsentDetails:
    consent_type_id: int
    document_title: str
    document_version: str
    signed_on: date
    witnessed_by: str
    valid_until: date | None = None
    note: str = ""


@dataclass(frozen=True)
class ConsentSummary:
    """One line of the patient header: the patient's best consent of one type, and its state."""

    consent: Consent
    state: ConsentState


def clinic_today() -> date:
    return local_now().date()


def active_consent_types() -> list[ConsentType]:
    return list(
        db.session.scalars(
            sa.select(ConsentType)
            .where(ConsentType.active.is_(True))
            .order_by(ConsentType.position, ConsentType.id)
        )
    )


def consents_of(patient_id: int) -> list[Consent]:
    """The patient's consents, newest signed first."""
    return list(
        db.session.scalars(
            sa.select(Consent)
            .where(Consent.patient_id == patient_id)
            .order_by(Consent.signed_on.desc(), Consent.id.desc())
        ).unique()
    )


def current_consent_for(patient_id: int, route: Route, day: date) -> Consent | None:
    """A consent of the patient covering `route` that is current on `day`, if any (the one
    valid longest when several are)."""
    covering = [
        consent
        for consent in consents_of(patient_id)
        if consent.consent_type.route == route and consent.state_on(day).covers
    ]
    if not covering:
        return None
    return max(covering, key=lambda c: (c.valid_until is None, c.valid_until or day, c.id))


# The order in which one type's consents stand for it in the header: a current one first.
_STANDING = {
    ConsentState.CURRENT: 0,
    ConsentState.EXPIRING: 1,
    ConsentState.NOT_YET_VALID: 2,
    ConsentState.EXPIRED: 3,
    ConsentState.WITHDRAWN: 4,
}


def consent_summary(patient_id: int, day: date | None = None) -> list[ConsentSummary]:
    """Per consent type the patient has signed, the consent that stands for it on `day` (today
    by default): a current one before one expiring, then not yet valid, expired, withdrawn."""
    day = day or clinic_today()
    best: dict[int, ConsentSummary] = {}
    for consent in consents_of(patient_id):
        state = consent.state_on(day)
        held = best.get(consent.consent_type_id)
        if held is None or _STANDING[state] < _STANDING[held.state]:
            best[consent.consent_type_id] = ConsentSummary(consent, state)
    return sorted(
        best.values(), key=lambda s: (s.consent.consent_type.position, s.consent.consent_type_id)
    )


def _cleaned(details: ConsentDetails) -> ConsentDetails:
    return ConsentDetails(
        consent_type_id=details.consent_type_id,
        document_title=details.document_title.strip(),
        document_version=details.document_version.strip(),
        signed_on=details.signed_on,
        witnessed_by=details.witnessed_by.strip(),
        valid_until=details.valid_until,
        note=details.note.strip(),
    )


def _check(details: ConsentDetails) -> ConsentType:
    consent_type = db.session.get(ConsentType, details.consent_type_id)
    if consent_type is None or not consent_type.active:
        raise ConsentError("Choose what the consent is for.", "consent_type_id")
    for name, label in (
        ("document_title", "the document's title"),
        ("document_version", "the document's version"),
        ("witnessed_by", "who witnessed the signature"),
    ):
        if not getattr(details, name):
            raise ConsentError(f"Enter {label}.", name)
    if details.signed_on > clinic_today():
        raise ConsentError("The consent cannot be signed on a day still to come.", "signed_on")
    if details.signed_on < EARLIEST_SIGNED_ON:
        raise ConsentError("Check the date the consent was signed.", "signed_on")
    if details.valid_until is not None and details.valid_until < details.signed_on:
        raise ConsentError("A consent is valid until a day after it was signed.", "valid_until")
    return consent_type


def record_consent(
    actor: User, patient_id: int, details: ConsentDetails, submission_key: str | None
) -> Saved[Consent]:
    """Record a consent the patient signed. The patient row is locked, so a double post finds
    the first one's consent through the form's one-time key and stores nothing."""
    patient = db.session.scalar(
        sa.select(Patient).where(Patient.id == patient_id).with_for_update()
    )
    if patient is None:
        raise ConsentError("This patient does not exist.")
    earlier = earlier_entry(
        Consent, submission_key, actor=actor, belongs=lambda c: c.patient_id == patient_id
    )
    if earlier is not None:
        return earlier
    details = _cleaned(details)
    _check(details)
    consent = Consent(
        patient_id=patient_id,
        consent_type_id=details.consent_type_id,
        document_title=details.document_title,
        document_version=details.document_version,
        signed_on=details.signed_on,
        witnessed_by=details.witnessed_by,
        valid_until=details.valid_until,
        note=details.note,
        recorded_at=utcnow(),
        recorded_by_id=actor.id,
    )
    db.session.add(consent)
    db.session.flush()
    remember_submission(submission_key, actor.id, Consent.__tablename__, consent.id)
    record_audit_event(
        actor_id=actor.id,
        action="consent_recorded",
        entity=Consent.__tablename__,
        entity_id=consent.id,
        patient_id=patient_id,
        changes=diff(
            {},
            {
                "consent_type_id": consent.consent_type_id,
                "document_title": consent.document_title,
                "document_version": consent.document_version,
                "signed_on": consent.signed_on.isoformat(),
                "witnessed_by": consent.witnessed_by,
                "valid_until": consent.valid_until.isoformat() if consent.valid_until else None,
                "note": consent.note,
                "recorded_at": consent.recorded_at.isoformat(),
            },
        ),
    )
    return Saved(consent)


def withdraw_consent(actor: User, patient_id: int, consent_id: int, reason: str) -> Consent:
    """The patient takes the consent back: from now on it covers no new session, and no new
    treatment is given under it in a session already open."""
    consent = db.session.scalar(
        sa.select(Consent)
        .where(Consent.id == consent_id, Consent.patient_id == patient_id)
        .with_for_update(of=Consent)
        .execution_options(populate_existing=True)
    )
    if consent is None:
        raise LookupError(consent_id)
    reason = reason.strip()
    if not reason:
        raise ConsentError("Say why the consent is withdrawn.", "reason")
    if consent.withdrawn_at is not None:
        raise ConsentWithdrawnAlreadyError
    consent.withdrawn_at = utcnow()
    consent.withdrawn_reason = reason
    consent.withdrawn_by_id = actor.id
    db.session.flush()
    record_audit_event(
        actor_id=actor.id,
        action="consent_withdrawn",
        entity=Consent.__tablename__,
        entity_id=consent.id,
        patient_id=patient_id,
        changes={
            "withdrawn_at": [None, consent.withdrawn_at.isoformat()],
            "withdrawn_reason": [None, reason],
            "withdrawn_by_id": [None, actor.id],
        },
    )
    return consent
