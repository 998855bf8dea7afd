"""Scores, checklist, cancelling, voiding, sign-off and addenda: the rules and their audit events.

Every function takes plain values and the acting user, never `request`; callers commit once.
Every write but an addendum goes through `lock_session_for_change` inside the write transaction,
so a signature that lands between loading a form and submitting it is seen and the write refused
(SessionLockedError). Create functions check the form's one-time key after taking the lock: a
double tap waits for the first post and then finds its key instead of adding a second entry.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from clinic.audit.models import AuditEvent
from clinic.audit.services import record_audit_event
from clinic.auth.models import Role, User
from clinic.auth.passwords import verify_password
from clinic.auth.services import record_failed_reauthentication
from clinic.database import utcnow
from clinic.extensions import db
from clinic.sessions.digest import content_digest
from clinic.sessions.entries import ChartError, begin_entry, store_entry
from clinic.sessions.guards import lock_session, lock_session_for_change
from clinic.sessions.models import (
    Addendum,
    Administration,
    ChecklistCompletion,
    ChecklistItem,
    InfusionEvent,
    InfusionSession,
    Instrument,
    MonitoringEntry,
    Score,
    ScoreTiming,
    SessionStatus,
    Signature,
)
from clinic.sessions.scoring import check_pain_score, phq9_band, phq9_risk_flag, phq9_total
from clinic.submissions import Saved, earlier_entry

SIGNATURE_MEANING = "Reviewed and signed"

# What can be voided, by the name used in URLs and the void macro.
VOIDABLE: dict[str, type[Any]] = {
    "administration": Administration,
    "infusion_event": InfusionEvent,
    "monitoring": MonitoringEntry,
    "score": Score,
    "checklist": ChecklistCompletion,
}


class WrongPasswordError(ChartError):
    def __init__(self) -> None:
        super().__init__("The password is not correct; the session was not signed.", "password")


class SignOffRefusedError(ChartError):
    def __init__(self, missing: list[str]) -> None:
        super().__init__("The session cannot be signed yet: " + "; ".join(missing) + ".")
        self.missing = missing


class StaleChecklistError(ChartError):
    def __init__(self, current: ChecklistCompletion | None) -> None:
        now = (
            "now: "
            + ("done" if current.done else f"not done ({current.not_done_reason})")
            + (f", {current.detail}" if current.detail else "")
            + f", by {current.recorded_by.display_name}"
            if current is not None
            else "its entry was voided"
        )
        super().__init__(
            f"Someone else recorded this item since you opened the chart ({now}). "
            "Check it and save again if yours is still right."
        )
        self.current_id = "" if current is None else str(current.id)


class VoidNotAllowedError(PermissionError):
    """Nurses void only what they recorded; admins nothing."""


class EntryNotFoundError(LookupError):
    pass


@dataclass(frozen=True)
class ChecklistRow:
    item: ChecklistItem
    current: ChecklistCompletion | None
    history: list[ChecklistCompletion] = field(default_factory=list)


# --- scores ---------------------------------------------------------------------------------


def _add_score(
    actor: User,
    infusion_session: InfusionSession,
    instrument: Instrument,
    timing: ScoreTiming,
    occurred_at: datetime,
    answers: list[int],
    total: int,
    risk_flag: bool,
    submission_key: str | None,
) -> Saved[Score]:
    score = Score(
        session_id=infusion_session.id,
        instrument=instrument,
        timing=timing,
        occurred_at=occurred_at,
        answers=answers,
        total=total,
        risk_flag=risk_flag,
        recorded_by_id=actor.id,
    )
    changes: dict[str, Any] = {
        "instrument": instrument.value,
        "timing": timing.value,
        "occurred_at": occurred_at.isoformat(),
        "total": total,
    }
    if instrument == Instrument.PHQ9:
        changes.update(answers=answers, band=phq9_band(total), risk_flag=risk_flag)
    return store_entry(
        actor,
        score,
        patient_id=infusion_session.patient_id,
        action="score_recorded",
        changes=changes,
        submission_key=submission_key,
    )


def record_phq9(
    actor: User,
    session_id: int,
    *,
    timing: ScoreTiming,
    occurred_at: datetime,
    answers: Sequence[int],
    submission_key: str | None = None,
) -> Saved[Score]:
    infusion_session, earlier = begin_entry(
        Score,
        session_id,
        submission_key,
        actor=actor,
        same_form=lambda e: e.instrument == Instrument.PHQ9,
    )
    if earlier is not None:
        return earlier
    answers = list(answers)
    total = phq9_total(answers)  # ValueError on a malformed list: the form already refused it
    return _add_score(
        actor,
        infusion_session,
        Instrument.PHQ9,
        timing,
        occurred_at,
        answers,
        total,
        phq9_risk_flag(answers),
        submission_key,
    )


def record_pain(
    actor: User,
    session_id: int,
    *,
    timing: ScoreTiming,
    occurred_at: datetime,
    score: int,
    submission_key: str | None = None,
) -> Saved[Score]:
    infusion_session, earlier = begin_entry(
        Score,
        session_id,
        submission_key,
        actor=actor,
        same_form=lambda e: e.instrument == Instrument.PAIN_NRS,
    )
    if earlier is not None:
        return earlier
    try:
        check_pain_score(score)
    except ValueError as error:
        raise ChartError(str(error), "score") from error
    return _add_score(
        actor,
        infusion_session,
        Instrument.PAIN_NRS,
        timing,
        occurred_at,
        [score],
        score,
        False,
        submission_key,
    )


# --- checklist ------------------------------------------------------------------------------


# Built once: the chart reads both on every view.
ACTIVE_CHECKLIST_ITEMS = (
    sa.select(ChecklistItem)
    .where(ChecklistItem.active.is_(True))
    .order_by(ChecklistItem.position, ChecklistItem.id)
)
COMPLETIONS_OF_SESSION = (
    sa.select(ChecklistCompletion)
    .where(ChecklistCompletion.session_id == sa.bindparam("session_id"))
    .order_by(ChecklistCompletion.id)
)


def active_checklist_items() -> list[ChecklistItem]:
    return list(db.session.scalars(ACTIVE_CHECKLIST_ITEMS))


def checklist_rows(session_id: int) -> list[ChecklistRow]:
    """Each active item with its current state: the latest completion not voided."""
    completions = db.session.scalars(COMPLETIONS_OF_SESSION, {"session_id": session_id}).all()
    rows = []
    for item in active_checklist_items():
        history = [c for c in completions if c.item_id == item.id]
        current = next((c for c in reversed(history) if not c.is_voided), None)
        rows.append(ChecklistRow(item, current, history))
    return rows


def record_checklist(
    actor: User,
    session_id: int,
    item_id: int,
    *,
    done: bool,
    not_done_reason: str | None = None,
    detail: str | None = None,
    note: str = "",
    submission_key: str | None = None,
    shown_state: str | None = None,
) -> Saved[ChecklistCompletion]:
    """Record an item as done or not done.

    `shown_state` is the id of the completion the form showed as current ("" for none; None
    skips the check): if another one was recorded since, the save is refused with what is now
    on the record, so two people never replace each other's entry unseen.
    """
    infusion_session, earlier = begin_entry(
        ChecklistCompletion,
        session_id,
        submission_key,
        actor=actor,
        same_form=lambda c: c.item_id == item_id,
    )
    if earlier is not None:
        return earlier
    item = db.session.get(ChecklistItem, item_id)
    if item is None or not item.active:
        raise EntryNotFoundError(item_id)
    if shown_state is not None:
        current = db.session.scalar(
            sa.select(ChecklistCompletion)
            .where(
                ChecklistCompletion.session_id == session_id,
                ChecklistCompletion.item_id == item_id,
                ChecklistCompletion.voided_at.is_(None),
            )
            .order_by(ChecklistCompletion.id.desc())
            .limit(1)
        )
        if (str(current.id) if current else "") != shown_state:
            raise StaleChecklistError(current)
    reason = (not_done_reason or "").strip() or None
    detail = (detail or "").strip() or None
    if not done and reason is None:
        raise ChartError("Give the reason it was not done.", "not_done_reason")
    if done and item.detail_label and detail is None:
        raise ChartError(f"Enter the {item.detail_label.lower()}.", "detail")
    completion = ChecklistCompletion(
        session_id=infusion_session.id,
        item_id=item.id,
        done=done,
        # A reason belongs to "not done" only; a stale one typed before ticking done is dropped.
        not_done_reason=None if done else reason,
        detail=detail,
        note=(note or "").strip(),
        recorded_by_id=actor.id,
    )
    return store_entry(
        actor,
        completion,
        patient_id=infusion_session.patient_id,
        action="checklist_recorded",
        changes={
            "item": item.code,
            "done": done,
            "not_done_reason": completion.not_done_reason,
            "detail": detail,
            "note": completion.note,
        },
        submission_key=submission_key,
    )


# --- cancelling -----------------------------------------------------------------------------


def cancel_session(actor: User, session_id: int, reason: str) -> InfusionSession:
    infusion_session = lock_session_for_change(session_id)
    reason = (reason or "").strip()
    if not reason:
        raise ChartError("Give the reason for cancelling.", "cancel_reason")
    if infusion_session.status == SessionStatus.CANCELLED:
        raise ChartError("This session is already cancelled.", "cancel_reason")
    previous = infusion_session.status
    infusion_session.status = SessionStatus.CANCELLED
    infusion_session.cancelled_at = utcnow()
    infusion_session.cancel_reason = reason
    record_audit_event(
        actor_id=actor.id,
        action="session_cancelled",
        entity="infusion_session",
        entity_id=infusion_session.id,
        patient_id=infusion_session.patient_id,
        changes={
            "status": [previous.value, SessionStatus.CANCELLED.value],
            "cancelled_at": infusion_session.cancelled_at.isoformat(),
            "cancel_reason": reason,
        },
    )
    return infusion_session


# --- voiding --------------------------------------------------------------------------------


def may_void(user: Any, entry: Any) -> bool:
    """Clinicians void any entry; nurses only what they recorded; admins nothing."""
    role = getattr(user, "role", None)
    if role == Role.CLINICIAN:
        return True
    return role == Role.NURSE and entry.recorded_by_id == user.id


def void_entry(actor: User, session_id: int, kind: str, entry_id: int, reason: str) -> Saved[Any]:
    """Mark an entry voided. It stays on the chart; `created` is False if it already was."""
    model = VOIDABLE.get(kind)
    if model is None:
        raise EntryNotFoundError(kind)
    infusion_session = lock_session_for_change(session_id)
    entry = db.session.get(model, entry_id, populate_existing=True)
    if entry is None or entry.session_id != infusion_session.id:
        raise EntryNotFoundError(entry_id)
    if not may_void(actor, entry):
        raise VoidNotAllowedError(kind)
    if entry.is_voided:  # a double tap: the first post did it
        return Saved(entry, created=False)
    reason = (reason or "").strip()
    if not reason:
        raise ChartError("Give the reason for voiding.", "reason")
    entry.voided_at = utcnow()
    entry.voided_by_id = actor.id
    entry.void_reason = reason
    record_audit_event(
        actor_id=actor.id,
        action="entry_voided",
        entity=model.__tablename__,
        entity_id=entry.id,
        patient_id=infusion_session.patient_id,
        changes={"kind": kind, "reason": reason, "voided_at": entry.voided_at.isoformat()},
    )
    return Saved(entry)


# --- sign-off -------------------------------------------------------------------------------


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
    return missing


def sign_session(actor: User, session_id: int, password: str) -> Signature:
    """Sign and lock the session; the digest seals its content as the clinician saw it."""
    if actor.role != Role.CLINICIAN:
        raise PermissionError("Only clinicians sign sessions.")
    # Checked before taking the lock: scrypt is slow and the chair should not wait on it.
    if not verify_password(actor.password_hash, password):
        raise WrongPasswordError
    infusion_session = lock_session_for_change(session_id)
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
        },
    )
    return signature


def record_session_view(actor: User, infusion_session: InfusionSession, action: str) -> None:
    """Every page that shows a session's record is a view of it, audited (invariant 6)."""
    record_audit_event(
        actor_id=actor.id,
        action=action,
        entity="infusion_session",
        entity_id=infusion_session.id,
        patient_id=infusion_session.patient_id,
    )


def record_failed_signature(actor: User, session_id: int, patient_id: int | None) -> None:
    """A wrong password at signing is a security event, counted like a failed login."""
    record_failed_reauthentication(actor, "signature")
    record_audit_event(
        actor_id=actor.id,
        action="signature_failed",
        entity="infusion_session",
        entity_id=session_id,
        patient_id=patient_id,
        changes={"reason": "bad password"},
    )


def signature_matches(signature: Signature) -> bool:
    """The record still hashes to what was signed, as stored on the signature and as sealed in
    the HMAC-chained audit event of the signing: rewriting an entry and the signature's digest
    together would still differ from the trail (whose own integrity `flask audit verify` checks).
    """
    sealed = db.session.scalar(
        sa.select(AuditEvent.changes)
        .where(
            AuditEvent.action == "session_signed",
            AuditEvent.entity == "infusion_session",
            AuditEvent.entity_id == str(signature.session_id),
        )
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )
    sealed_digest = json.loads(sealed).get("content_digest") if sealed else None
    current = content_digest(signature.session_id)
    return current == signature.content_digest == sealed_digest


# --- addenda --------------------------------------------------------------------------------


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
        changes={"text": text, "reason": reason},
        submission_key=submission_key,
    )
