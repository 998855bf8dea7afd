"""One-time form keys: a form posted twice (a double tap, a retry after a timeout) stores once.

Every create form carries a key new at each render (`OneTimeKey`). The service that stores the
entry remembers the key in the same transaction (`remember_submission`); a second post of the
same form finds it (`earlier_entry`) and stores nothing. Only the same person posting the same
values for the same record is a retry: a key that comes back anywhere else (a restored page, a
copied form) is refused, never taken as a duplicate, or a new entry would silently be lost or
land on another patient.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column
from wtforms import HiddenField
from wtforms.validators import Length

from clinic.database import UTCDateTime, utcnow
from clinic.extensions import db
from clinic.field_errors import FieldError

T = TypeVar("T")


class FormSubmission(db.Model):
    """One row per accepted form post: a double tap or a retry finds its key and adds nothing."""

    __tablename__ = "form_submission"

    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    entity: Mapped[str] = mapped_column(sa.String(40))
    entity_id: Mapped[int | None]
    # SHA-256 of what was posted: the same key coming back with other values is not a retry.
    payload_hash: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SubmissionKey(str):
    """A form's one-time key, carrying the fingerprint of the values posted with it.

    A plain string (a script, a test) is a key without a fingerprint: only its owner is checked.
    """

    fingerprint: str | None = None

    @classmethod
    def of(cls, key: str | None, fingerprint: str) -> SubmissionKey | None:
        if not key:
            return None
        submission = cls(key)
        submission.fingerprint = fingerprint
        return submission


def new_submission_key() -> str:
    return secrets.token_urlsafe(24)


class OneTimeKey:
    """A create form's mixin: a key new at each render, remembered when the post is stored."""

    _prefix: str

    # autocomplete off: a browser restoring a page must not bring back a key already used.
    submission_key = HiddenField(
        default=new_submission_key,
        validators=[Length(max=64)],
        render_kw={"autocomplete": "off"},
    )

    def submission(self) -> SubmissionKey | None:
        """The posted key with a fingerprint of the posted values (a double tap repeats both)."""
        ignored = {self.submission_key.name, "csrf_token", f"{self._prefix}csrf_token"}
        posted = sorted(
            (field.name, list(field.raw_data or []))
            for field in self  # type: ignore[attr-defined]
            if field.name not in ignored
        )
        fingerprint = hashlib.sha256(json.dumps(posted).encode()).hexdigest()
        return SubmissionKey.of(self.submission_key.data, fingerprint)

    def renew_submission_key(self) -> None:
        """A form shown again after a refusal stored nothing: its next post is a new entry."""
        self.submission_key.data = new_submission_key()


@dataclass(frozen=True)
class Saved(Generic[T]):
    """What a create stored, or found stored by an earlier post of the same form."""

    entry: T
    created: bool = True


class ReusedFormError(FieldError):
    """A form's one-time key came back from another form, record, patient or person."""

    def __init__(self) -> None:
        super().__init__(
            "This form had already been used for another entry, so nothing was saved. "
            "Check the values and press save again."
        )


def earlier_submission(key: str | None) -> FormSubmission | None:
    """The submission that already used this form's one-time key, if any.

    Call after locking the record the entry belongs to: a concurrent duplicate then waits on
    that lock and finds the first post's key here instead of racing it.
    """
    return db.session.get(FormSubmission, key) if key else None


def remember_submission(key: str | None, user_id: int, entity: str, entity_id: int) -> None:
    if key:
        db.session.add(
            FormSubmission(
                key=str(key),
                user_id=user_id,
                entity=entity,
                entity_id=entity_id,
                payload_hash=getattr(key, "fingerprint", None),
            )
        )


def earlier_entry(
    model: type[T],
    submission_key: str | None,
    *,
    actor: Any,
    belongs: Callable[[T], bool],
) -> Saved[T] | None:
    """The entry an earlier post of this very form stored, if the key was used already.

    Raises ReusedFormError when the key comes back from someone else, for another record, or
    with other values.
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
