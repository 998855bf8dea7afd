"""Storing a new entry in a session's record: the steps every create shares.

A create is: lock the session (guards.lock_session_for_change), look for the form's one-time key
(`earlier_entry`: a double tap or a retry finds the first post's entry and stores nothing), check
the rules, then `store_entry`: add, audit in the same transaction, remember the key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from clinic.audit.services import record_audit_event
from clinic.auth.models import User
from clinic.extensions import db
from clinic.sessions.guards import (
    earlier_submission,
    lock_session_for_change,
    remember_submission,
)
from clinic.sessions.models import InfusionSession

T = TypeVar("T")


class ChartError(ValueError):
    """A write the record cannot take, with a message for the user (and the field, if any)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Saved(Generic[T]):
    """What a create stored, or found stored by an earlier post of the same form."""

    entry: T
    created: bool = True


class ReusedFormError(ChartError):
    """A form's one-time key came back from another form, session, patient or person."""

    def __init__(self) -> None:
        super().__init__(
            "This form had already been used for another entry, so nothing was saved. "
            "Check the values and press save again."
        )


def earlier_entry(
    model: type[T],
    submission_key: str | None,
    *,
    actor: User,
    belongs: Callable[[T], bool],
) -> Saved[T] | None:
    """The entry an earlier post of this very form stored, if the key was used already.

    Only the same person posting the same form for the same record is a retry: a key that comes
    back anywhere else (a restored page, a copied form) is refused, never taken as a duplicate,
    or the new entry would silently be lost or land on another patient.
    """
    earlier = earlier_submission(submission_key)
    if earlier is None:
        return None
    entry = (
        db.session.get(model, earlier.entity_id)
        if earlier.entity == model.__tablename__ and earlier.entity_id is not None  # type: ignore[attr-defined]
        else None
    )
    fingerprint = getattr(submission_key, "fingerprint", None)
    other_values = None not in (fingerprint, earlier.payload_hash) and (
        fingerprint != earlier.payload_hash
    )
    if entry is None or earlier.user_id != actor.id or not belongs(entry) or other_values:
        raise ReusedFormError
    return Saved(entry, created=False)


def begin_entry(
    model: type[T],
    session_id: int,
    submission_key: str | None,
    *,
    actor: User,
    same_form: Callable[[T], bool] = lambda entry: True,
) -> tuple[InfusionSession, Saved[T] | None]:
    """Lock the session for a new entry (refused once signed) and find the entry an earlier
    post of this form stored, if any: the steps every create on a session starts with."""
    infusion_session = lock_session_for_change(session_id)
    earlier = earlier_entry(
        model,
        submission_key,
        actor=actor,
        belongs=lambda entry: entry.session_id == session_id and same_form(entry),  # type: ignore[attr-defined]
    )
    return infusion_session, earlier


def store_entry(
    actor: User,
    entry: T,
    *,
    patient_id: int,
    action: str,
    changes: dict[str, Any],
    submission_key: str | None,
) -> Saved[T]:
    db.session.add(entry)
    db.session.flush()
    entity = entry.__tablename__  # type: ignore[attr-defined]
    entry_id = entry.id  # type: ignore[attr-defined]
    # Before the audit event, which writes what is pending first: the audit chain stays locked
    # from its append to the commit, and every audited request of the clinic waits on it.
    remember_submission(submission_key, actor.id, entity, entry_id)
    record_audit_event(
        actor_id=actor.id,
        action=action,
        entity=entity,
        entity_id=entry_id,
        patient_id=patient_id,
        changes=changes,
    )
    return Saved(entry)
