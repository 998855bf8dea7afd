"""Signing a session, checking that the record still matches its signature, and addenda.

A signature seals the record with its digest (clinic/sessions/digest.py); after it, the only
change a session takes is an addendum."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from clinic.audit.models import AuditEvent
from clinic.audit.services import record_audit_event
from clinic.auth import second_factor
from clinic.auth.models import Role, User
from clinic.auth.passwords import verify_password
from clinic.auth.services import record_failed_reauthentication
from clinic.clinic_time import format_local
from clinic.database import utcnow
from clinic.extensions import db
from clinic.sessions.deviations import awaits_acknowledgement
from clinic.sessions.digest import content_digest
from clinic.sessions.entries import ChartError, store_entry
from clinic.sessions.guards import lock_session, lock_session_for_change
from clinic.sessions.models import (
    Addendum,
    Administration,
    InfusionSession,
    SessionStatus,
    Signature,
)
from clinic.sessions.services.discharge import ChecklistRow, checklist_rows
from clinic.submissions import Saved, earlier_entry

SIGNATURE_MEANING = "Reviewed and signed"


class WrongPasswordError(ChartError):
    def __init__(self) -> None:
        super().__init__("The password is not correct; the session was not signed.", "password")


class WrongCodeError(ChartError):
    def __init__(self, check: second_factor.CodeCheck) -> None:
        super().__init__(
            second_factor.refusal_message(check) + " The session was not signed.", "code"
        )


class SignOffRefusedError(ChartError):
    def __init__(self, missing: list[str]) -> None:
        super().__init__("The session cannot be signed yet: " + "; ".join(missing) + ".")
        self.missing = missing


def sign_off_problems(
    infusion_session: InfusionSession,
    checklist: list[ChecklistRow] | None = None,
    administrations: list[Administration] | None = None,
) -> list[str]:
    """What stands between this session and a signature, in words for the clinician.

    `checklist` and `administrations` are the session's, when the caller has read them already.
    """
    rows = checklist if checklist is not None else checklist_rows(infusion_session.id)
    missing = [
        f"checklist: {row.item.label}" for row in rows if row.item.required and row.current is None
    ]
    cancelled = infusion_session.status == SessionStatus.CANCELLED and bool(
        (infusion_session.cancel_reason or "").strip()
    )
    if not cancelled and administrations is not None:
        if not any(not a.is_voided for a in administrations):
            missing.append("at least one administration (or cancel the session with a reason)")
    elif not cancelled:
        given = db.session.scalar(
            sa.select(sa.func.count(Administration.id)).where(
                Administration.session_id == infusion_session.id,
                Administration.voided_at.is_(None),
            )
        )
        if not given:
            missing.append("at least one administration (or cancel the session with a reason)")
    missing.extend(_unacknowledged_deviations(infusion_session.id, administrations))
    return missing


def _unacknowledged_deviations(
    session_id: int, administrations: list[Administration] | None
) -> list[str]:
    """Each administration whose deviation from its order no clinician has acknowledged."""
    if administrations is None:
        administrations = list(
            db.session.scalars(
                sa.select(Administration).where(
                    Administration.session_id == session_id,
                    Administration.order_id.isnot(None),
                    Administration.voided_at.is_(None),
                    Administration.deviation_acknowledged_at.is_(None),
                )
            ).unique()
        )
    return [
        f"a clinician's acknowledgement of the deviation from order {a.order_id} "
        f"(administration at {format_local(a.started_at, '%H:%M')})"
        for a in administrations
        if awaits_acknowledgement(a)
    ]


def sign_session(actor: User, session_id: int, password: str, code: str) -> Signature:
    """Sign and lock the session; the digest seals its content as the clinician saw it.

    The clinician re-enters her password and her second factor's code (DESIGN.md §6): a
    signature is hers, not her open session's.
    """
    if actor.role != Role.CLINICIAN:
        raise PermissionError("Only clinicians sign sessions.")
    # Checked before taking the lock: scrypt is slow and the chair should not wait on it.
    if not verify_password(actor.password_hash, password):
        raise WrongPasswordError
    infusion_session = lock_session_for_change(session_id)
    # After the session's lock, as every chart entry takes its locks: the code's check writes
    # (the code is spent) and a recovery code's use is audited.
    check = second_factor.confirms(actor, code)
    if not check.accepted:
        raise WrongCodeError(check)
    missing = sign_off_problems(infusion_session)
    if missing:
        raise SignOffRefusedError(missing)
    db.session.flush()
    signature = Signature(
        session_id=infusion_session.id,
        signer_id=actor.id,
        signer_name=actor.full_name,
        signer_credentials=actor.credentials or "",
        signed_at=utcnow(),
        meaning=SIGNATURE_MEANING,
        content_digest=content_digest(infusion_session.id),
    )
    previous = infusion_session.status
    infusion_session.status = SessionStatus.SIGNED
    db.session.add(signature)
    db.session.flush()
    record_audit_event(
        actor_id=actor.id,
        action="session_signed",
        entity="infusion_session",
        entity_id=infusion_session.id,
        patient_id=infusion_session.patient_id,
        changes={
            "status": [previous.value, SessionStatus.SIGNED.value],
            "signature_id": signature.id,
            "meaning": signature.meaning,
            "content_digest": signature.content_digest,
            "signer_name": signature.signer_name,
            "signer_credentials": signature.signer_credentials,
            "signed_at": signature.signed_at.isoformat(),
        },
    )
    second_factor.record_recovery_code_use(actor, check)
    return signature


def record_failed_signature(
    actor: User, session_id: int, patient_id: int | None, reason: str = "bad password"
) -> None:
    """A wrong password or code at signing is a security event, counted like a failed login."""
    record_failed_reauthentication(actor, "signature")
    record_audit_event(
        actor_id=actor.id,
        action="signature_failed",
        entity="infusion_session",
        entity_id=session_id,
        patient_id=patient_id,
        changes={"reason": reason},
    )


def _sealed_fields(signature: Signature) -> dict[str, Any]:
    """What the signature row shows, as the signing's audit event is expected to have sealed it."""
    return {
        "signature_id": signature.id,
        "meaning": signature.meaning,
        "content_digest": signature.content_digest,
        "signer_name": signature.signer_name,
        "signer_credentials": signature.signer_credentials,
        "signed_at": signature.signed_at.isoformat(),
    }


def signature_matches(signature: Signature) -> bool:
    """The record still hashes to what was signed, and the signature still says who signed it,
    when and meaning what, as sealed in the HMAC-chained audit event of the signing.

    Rewriting an entry and the signature's digest together would still differ from the trail
    (whose own integrity `flask audit verify` checks); so would a forged signer or meaning.
    Signatures sealed before the signer's name and time were part of the event are checked on
    what their event holds (signer, meaning, digest).
    """
    sealed = db.session.execute(
        sa.select(AuditEvent.actor_id, AuditEvent.changes)
        .where(
            AuditEvent.action == "session_signed",
            AuditEvent.entity == "infusion_session",
            AuditEvent.entity_id == str(signature.session_id),
        )
        .order_by(AuditEvent.id.desc())
        .limit(1)
    ).one_or_none()
    if sealed is None or sealed.actor_id != signature.signer_id:
        return False
    event = json.loads(sealed.changes)
    shown = _sealed_fields(signature)
    if any(event[name] != shown[name] for name in shown if name in event):
        return False
    return (
        content_digest(signature.session_id)
        == signature.content_digest
        == event.get("content_digest")
    )


def add_addendum(
    actor: User,
    session_id: int,
    *,
    text: str,
    reason: str,
    submission_key: str | None = None,
) -> Saved[Addendum]:
    # lock_session, not lock_session_for_change: an addendum is the one change a signed
    # session takes. The lock still orders it after a signature being written.
    infusion_session = lock_session(session_id)
    earlier = earlier_entry(
        Addendum, submission_key, actor=actor, belongs=lambda a: a.session_id == session_id
    )
    if earlier is not None:
        return earlier
    if infusion_session.status != SessionStatus.SIGNED:
        raise ChartError(
            "Addenda are added to signed sessions; until then, chart or void entries.", "text"
        )
    text, reason = (text or "").strip(), (reason or "").strip()
    if not text:
        raise ChartError("Write the addendum.", "text")
    if not reason:
        raise ChartError("Give the reason for the addendum.", "reason")
    addendum = Addendum(
        session_id=infusion_session.id,
        text=text,
        reason=reason,
        author_id=actor.id,
        created_at=utcnow(),
    )
    return store_entry(
        actor,
        addendum,
        patient_id=infusion_session.patient_id,
        action="addendum_added",
        changes={"session_id": infusion_session.id, "text": text, "reason": reason},
        submission_key=submission_key,
    )
