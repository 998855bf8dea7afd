"""Recording and verifying audit events.

`record_audit_event` adds the event to the caller's transaction: it commits or rolls back with the
change it describes. Appends are serialised on the chain-head row (SELECT ... FOR UPDATE on
PostgreSQL; on SQLite every transaction is BEGIN IMMEDIATE), so two writers never both extend the
same head and fork the chain.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app, has_request_context, request
from sqlalchemy.orm import lazyload

from clinic.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent
from clinic.database import utcnow
from clinic.extensions import db

HEAD_ID = 1
EVENTS = AuditEvent.__table__
HEAD = AuditChainHead.__table__
# Built once: the append runs on every audited request, under the chain's lock.
LOCK_HEAD = (
    sa.select(HEAD.c.last_event_id, HEAD.c.last_hash).where(HEAD.c.id == HEAD_ID).with_for_update()
)
INSERT_EVENT = EVENTS.insert()
MOVE_HEAD = (
    HEAD.update()
    .where(HEAD.c.id == HEAD_ID)
    .values(
        last_event_id=sa.bindparam("new_id"),
        last_hash=sa.bindparam("new_hash"),
        seal=sa.bindparam("new_seal"),
    )
)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def _key() -> bytes:
    return str(current_app.config["AUDIT_KEY"]).encode()


def _mac(message: str) -> str:
    return hmac.new(_key(), message.encode(), hashlib.sha256).hexdigest()


def _event_content(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "occurred_at": event.occurred_at.isoformat(timespec="microseconds"),
        "actor_id": event.actor_id,
        "action": event.action,
        "entity": event.entity,
        "entity_id": event.entity_id,
        "patient_id": event.patient_id,
        "changes": event.changes,
        "remote_addr": event.remote_addr,
    }


def event_hash(event: AuditEvent) -> str:
    return _mac(event.prev_hash + canonical_json(_event_content(event)))


def head_seal(last_event_id: int, last_hash: str) -> str:
    return _mac(f"head:{last_event_id}:{last_hash}")


def _request_origin() -> str | None:
    # The origin of the change is part of the record; outside a request (CLI) there is none.
    return request.remote_addr if has_request_context() else "cli"


def record_audit_event(
    *,
    actor_id: int | None,
    action: str,
    entity: str,
    entity_id: int | str | None = None,
    patient_id: int | None = None,
    changes: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Append an event to the trail inside the current transaction; returns what was written.

    The chain's head is locked until the caller's commit, and every audited request of the
    clinic (each view of a record) queues on it. So the event is prepared before the lock is
    taken, and the append is three Core statements rather than an ORM flush.
    """
    event = AuditEvent(
        actor_id=actor_id,
        action=action,
        entity=entity,
        entity_id=None if entity_id is None else str(entity_id),
        patient_id=patient_id,
        changes=canonical_json(dict(changes or {})),
        remote_addr=_request_origin(),
    )
    # The caller's pending changes are written first, outside the lock; the append then uses the
    # session's own connection (the caller's transaction) and Core statements, so no ORM
    # bookkeeping runs while the chain is locked.
    db.session.flush()
    connection = db.session.connection()
    head = connection.execute(LOCK_HEAD).one_or_none()
    if head is None:
        raise RuntimeError("audit chain head is missing: run the migrations")
    # Stamped under the lock, so that the trail's times rise with its ids.
    event.occurred_at = utcnow()
    event.id = head.last_event_id + 1
    event.prev_hash = head.last_hash
    event.hash = event_hash(event)
    row = {column.key: getattr(event, column.key) for column in EVENTS.c}
    connection.execute(INSERT_EVENT, row)
    connection.execute(
        MOVE_HEAD,
        {"new_id": event.id, "new_hash": event.hash, "new_seal": head_seal(event.id, event.hash)},
    )
    # Not added to the session: a record of the row written, which nothing changes afterwards.
    return event


def diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Fields whose value changed, as {field: [old, new]}."""
    return {
        name: [_plain(old.get(name)), _plain(new.get(name))]
        for name in sorted(set(old) | set(new))
        if old.get(name) != new.get(name)
    }


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_broken_id: int | None = None
    reason: str = ""


def _events_in_order(batch: int = 1000) -> Iterator[AuditEvent]:
    """Every event as stored, in batches that leave the session as they found it.

    Only the events read here are expunged after use, and their actor is not loaded: expunging
    everything (or refreshing users) would detach or overwrite the caller's own objects.
    """
    last_id = 0
    while True:
        rows = db.session.scalars(
            sa.select(AuditEvent)
            .where(AuditEvent.id > last_id)
            .order_by(AuditEvent.id)
            .limit(batch)
            .options(lazyload(AuditEvent.actor))
            .execution_options(populate_existing=True)
        ).all()
        if not rows:
            return
        for row in rows:
            yield row
            db.session.expunge(row)
        last_id = rows[-1].id


def verify_chain() -> VerifyResult:
    """Check every event's HMAC and link, and that the head still seals the last one."""
    expected_prev, expected_id, checked = GENESIS_HASH, 1, 0
    for event in _events_in_order():
        if event.id != expected_id:
            return VerifyResult(False, checked, expected_id, "event missing from the sequence")
        if event.prev_hash != expected_prev:
            return VerifyResult(False, checked, event.id, "link to the previous event broken")
        if not hmac.compare_digest(event.hash, event_hash(event)):
            return VerifyResult(False, checked, event.id, "content does not match its hash")
        expected_prev, expected_id, checked = event.hash, event.id + 1, checked + 1
    head = db.session.get(AuditChainHead, HEAD_ID, populate_existing=True)
    last_id = expected_id - 1
    if (
        head is None
        or head.last_event_id != last_id
        or head.last_hash != expected_prev
        or not hmac.compare_digest(head.seal, head_seal(last_id, expected_prev))
    ):
        return VerifyResult(False, checked, last_id + 1, "events cut off the end of the trail")
    return VerifyResult(True, checked)


# --- anchors: the head kept outside the database ------------------------------------------------
#
# The head's seal stops anyone without the key from cutting events off the end, but not someone
# who writes back an older head with its seal (a restored backup, say). An anchor is the head as
# it was at some moment, "<event id>:<hash>", kept where the database's writers cannot reach (the
# operations log, a ticket, a printout). A trail that no longer holds that event with that hash
# was cut back or rewritten since. It names no patient: an id and a keyed hash.


@dataclass(frozen=True)
class Anchor:
    event_id: int
    hash: str

    def __str__(self) -> str:
        return f"{self.event_id}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> Anchor:
        event_id, _, digest = text.strip().partition(":")
        if not event_id.isdigit() or int(event_id) < 1 or len(digest) != 64:
            raise ValueError(f"an anchor reads <event id>:<64 hex digits>, not {text!r}")
        try:
            bytes.fromhex(digest)
        except ValueError:
            raise ValueError(f"an anchor's hash is 64 hex digits, not {digest!r}") from None
        return cls(int(event_id), digest.lower())


def current_anchor() -> Anchor | None:
    """The head as it stands (None while the trail is empty); verify the chain first."""
    head = db.session.get(AuditChainHead, HEAD_ID, populate_existing=True)
    if head is None or head.last_event_id == 0:
        return None
    return Anchor(head.last_event_id, head.last_hash)


def anchor_problem(anchor: Anchor) -> str | None:
    """Why the trail does not hold the anchored event as it was, or None when it does."""
    stored = db.session.scalar(sa.select(AuditEvent.hash).where(AuditEvent.id == anchor.event_id))
    if stored is None:
        return f"event {anchor.event_id} of the anchor is missing: the trail was cut back"
    if not hmac.compare_digest(stored, anchor.hash):
        return f"event {anchor.event_id} differs from the anchor: the trail was rewritten"
    return None
