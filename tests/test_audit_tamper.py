"""The audit trail's tamper evidence, field by field: every stored column of an event (and of the
chain's head), edited alone behind the app's back, breaks `flask audit verify` at that event with
the reason a reader needs; known answers pin the hashed format; the origin of an event is stored.

tests/test_audit.py covers the chain's mechanics (edits of `changes`, insertions, deletions, a
cut-off tail, anchors) by the event id only; this module asserts the reason as well.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from clinic.audit import services as audit_services
from clinic.audit.models import GENESIS_HASH, AuditChainHead, AuditEvent
from clinic.audit.services import (
    canonical_json,
    event_hash,
    head_seal,
    record_audit_event,
    verify_chain,
)
from clinic.auth.models import Role, User
from tests.conftest import PASSWORD
from tests.helpers import local_text

EVENTS = AuditEvent.__table__
HEAD = AuditChainHead.__table__

CONTENT = "content does not match its hash"
LINK = "link to the previous event broken"
MISSING = "event missing from the sequence"
CUT_OFF = "events cut off the end of the trail"

# --- helpers ----------------------------------------------------------------------------------


def sql(db, statement: sa.Executable | str, **params: Any) -> None:
    if isinstance(statement, str):
        statement = sa.text(statement)
    db.session.execute(statement, params)
    db.session.commit()


def drop_append_only_triggers(db) -> None:
    """What an attacker with write access to the database (but not the key) does first."""
    if db.engine.dialect.name == "postgresql":
        sql(db, "DROP TRIGGER audit_event_no_update_or_delete ON audit_event")
    else:
        sql(db, "DROP TRIGGER audit_event_no_update")
        sql(db, "DROP TRIGGER audit_event_no_delete")


def stored_events(db) -> list[sa.Row]:
    return list(db.session.execute(sa.select(EVENTS).order_by(EVENTS.c.id)))


def assert_broken(runner, event_id: int, reason: str) -> None:
    """Both the service and the command name the event and say why."""
    result = verify_chain()
    assert (result.ok, result.first_broken_id, result.reason) == (False, event_id, reason)
    cli = runner.invoke(args=["audit", "verify"])
    assert cli.exit_code == 1, cli.output
    assert f"Audit trail BROKEN at event {event_id}: {reason} (" in cli.output


def other_user_id(db, user_id: int | None) -> int:
    """An existing user other than this one (the actor column is a foreign key)."""
    return db.session.scalar(sa.select(User.id).where(User.id != user_id).order_by(User.id))


MONITORING = {
    "systolic_bp": "128",
    "diastolic_bp": "82",
    "heart_rate": "76",
    "spo2": "98",
    "respiratory_rate": "14",
    "sedation_moaas": "5",
    "dissociation": "mild",
    "nausea": "none",
    "pain_nrs": "3",
    "temperature_c": "36.8",
    "phase": "during",
}


@pytest.fixture
def trail(app, db, charting, client) -> list[sa.Row]:
    """A real trail, written by the app: staff created outside a request (no actor, origin
    "cli"), a login, a session opened, a patient's record viewed, a chart entry, a failed login
    of an unknown user (no actor, no entity id), the chart viewed. It verifies as written."""
    infusion_session = charting["session"]
    assert client.get(f"/patients/{infusion_session.patient_id}").status_code == 200
    response = client.post(
        f"/sessions/{infusion_session.id}/monitoring",
        data={**MONITORING, "occurred_at": local_text(charting["start"] + timedelta(minutes=5))},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    stranger = app.test_client()
    stranger.post(
        "/login",
        data={"username": "nobody-here", "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "198.51.100.77"},
    )
    assert client.get(f"/sessions/{infusion_session.id}").status_code == 200
    events = stored_events(db)
    assert [row.id for row in events] == list(range(1, len(events) + 1))
    assert len(events) >= 8
    assert verify_chain().ok
    return events


# --- every field of an event ------------------------------------------------------------------


@dataclass(frozen=True)
class Tamper:
    column: str
    # Picks the event to edit among those strictly inside the trail (not the first, not the last).
    target: Callable[[sa.Row], bool]
    new_value: Callable[[Any, sa.Row], Any]  # (db, the event as stored) -> the value written
    reason: str


def any_event(row: sa.Row) -> bool:
    return True


# The reason is decided per field: an edit of the hashed content shows as a content mismatch; an
# edit of the link as a broken link; an id moved away as a gap in the sequence (the event is
# found missing where it was). The hash itself edited no longer matches the content it covers.
TAMPERS: dict[str, Tamper] = {
    "id-moved-away": Tamper("id", any_event, lambda db, row: row.id + 1000, MISSING),
    "occurred_at-one-microsecond-later": Tamper(
        "occurred_at",
        any_event,
        lambda db, row: row.occurred_at + timedelta(microseconds=1),
        CONTENT,
    ),
    "occurred_at-a-day-earlier": Tamper(
        "occurred_at", any_event, lambda db, row: row.occurred_at - timedelta(days=1), CONTENT
    ),
    "actor_id-another-user": Tamper(
        "actor_id",
        lambda row: row.actor_id is not None,
        lambda db, row: other_user_id(db, row.actor_id),
        CONTENT,
    ),
    "actor_id-to-null": Tamper(
        "actor_id", lambda row: row.actor_id is not None, lambda db, row: None, CONTENT
    ),
    "actor_id-from-null": Tamper(
        "actor_id",
        lambda row: row.actor_id is None,
        lambda db, row: other_user_id(db, None),
        CONTENT,
    ),
    "action": Tamper("action", any_event, lambda db, row: row.action + "_x", CONTENT),
    "entity": Tamper("entity", any_event, lambda db, row: row.entity + "_x", CONTENT),
    "entity_id-another": Tamper(
        "entity_id",
        lambda row: row.entity_id is not None,
        lambda db, row: str(int(row.entity_id) + 1),
        CONTENT,
    ),
    "entity_id-to-null": Tamper(
        "entity_id", lambda row: row.entity_id is not None, lambda db, row: None, CONTENT
    ),
    "entity_id-from-null": Tamper(
        "entity_id", lambda row: row.entity_id is None, lambda db, row: "1", CONTENT
    ),
    "patient_id-another": Tamper(
        "patient_id",
        lambda row: row.patient_id is not None,
        lambda db, row: row.patient_id + 1,
        CONTENT,
    ),
    "patient_id-to-null": Tamper(
        "patient_id", lambda row: row.patient_id is not None, lambda db, row: None, CONTENT
    ),
    "patient_id-from-null": Tamper(
        "patient_id", lambda row: row.patient_id is None, lambda db, row: 1, CONTENT
    ),
    "changes-other-value": Tamper(
        "changes", lambda row: row.changes != "{}", lambda db, row: "{}", CONTENT
    ),
    "changes-same-json-other-bytes": Tamper(
        # Hashed as stored: even an equivalent JSON text is a different record.
        "changes",
        lambda row: row.changes != "{}",
        lambda db, row: row.changes.replace(":", ": ", 1),
        CONTENT,
    ),
    "changes-from-empty": Tamper(
        "changes", lambda row: row.changes == "{}", lambda db, row: '{"n":1}', CONTENT
    ),
    "remote_addr-another": Tamper(
        "remote_addr",
        lambda row: row.remote_addr not in (None, "cli"),
        lambda db, row: "203.0.113.250",
        CONTENT,
    ),
    "remote_addr-to-null": Tamper(
        "remote_addr", lambda row: row.remote_addr is not None, lambda db, row: None, CONTENT
    ),
    "remote_addr-to-empty": Tamper(
        "remote_addr", lambda row: row.remote_addr is not None, lambda db, row: "", CONTENT
    ),
    "remote_addr-cli-claims-a-request": Tamper(
        "remote_addr", lambda row: row.remote_addr == "cli", lambda db, row: "127.0.0.1", CONTENT
    ),
    "prev_hash": Tamper("prev_hash", any_event, lambda db, row: "f" * 64, LINK),
    "prev_hash-to-genesis": Tamper("prev_hash", any_event, lambda db, row: GENESIS_HASH, LINK),
    "hash": Tamper("hash", any_event, lambda db, row: "e" * 64, CONTENT),
    "hash-upper-case": Tamper("hash", any_event, lambda db, row: row.hash.upper(), CONTENT),
}


def test_every_audit_event_column_has_a_tamper_case(db):
    # A new column fails here until it has a case below, and its case fails until it is hashed.
    migrated = {column["name"] for column in sa.inspect(db.engine).get_columns("audit_event")}
    assert migrated == set(EVENTS.c.keys())
    assert {tamper.column for tamper in TAMPERS.values()} == migrated


@pytest.mark.parametrize("case", list(TAMPERS))
def test_editing_one_field_of_an_event_breaks_the_chain_there(db, runner, trail, case):
    tamper = TAMPERS[case]
    inside = trail[1:-1]
    target = next((row for row in inside if tamper.target(row)), None)
    assert target is not None, (case, [(row.id, getattr(row, tamper.column)) for row in inside])
    value = tamper.new_value(db, target)
    assert value != getattr(target, tamper.column)
    drop_append_only_triggers(db)

    sql(db, EVENTS.update().where(EVENTS.c.id == target.id).values({tamper.column: value}))

    assert_broken(runner, target.id, tamper.reason)


# --- the trail's structure and its head --------------------------------------------------------


def delete_third(db, last: int) -> None:
    sql(db, "DELETE FROM audit_event WHERE id = 3")


def delete_third_and_renumber(db, last: int) -> None:
    delete_third(db, last)
    sql(db, "UPDATE audit_event SET id = id + 1000 WHERE id > 3")
    sql(db, "UPDATE audit_event SET id = id - 1001 WHERE id > 1000")


def swap_third_and_fourth(db, last: int) -> None:
    sql(db, "UPDATE audit_event SET id = 1003 WHERE id = 3")
    sql(db, "UPDATE audit_event SET id = 3 WHERE id = 4")
    sql(db, "UPDATE audit_event SET id = 4 WHERE id = 1003")


def insert_a_copy_of_the_second_as_third(db, last: int) -> None:
    """The second event copied in again right after it: its link points one event back."""
    sql(db, "UPDATE audit_event SET id = id + 1000 WHERE id >= 3")
    sql(db, "UPDATE audit_event SET id = id - 999 WHERE id >= 1000")
    second = db.session.execute(sa.select(EVENTS).where(EVENTS.c.id == 2)).one()._asdict()
    # The stored hash is unique: the copy differs in one character, the best a keyless forger has.
    forged = ("1" if second["hash"].startswith("0") else "0") + second["hash"][1:]
    sql(db, EVENTS.insert().values({**second, "id": 3, "hash": forged}))


def cut_off_the_last_two(db, last: int) -> None:
    sql(db, "DELETE FROM audit_event WHERE id > :keep", keep=last - 2)


# (edit, where it breaks given the last event's id, reason); test_audit.py pins the id of most of
# these, not the reason. A verbatim replay is refused by the database: the hash is unique.
STRUCTURE: dict[str, tuple[Callable[[Any, int], None], Callable[[int], int], str]] = {
    "deleted-from-the-middle": (delete_third, lambda last: 3, MISSING),
    "deleted-and-renumbered": (delete_third_and_renumber, lambda last: 3, LINK),
    "two-events-swapped": (swap_third_and_fourth, lambda last: 3, LINK),
    "replayed-event-inserted": (insert_a_copy_of_the_second_as_third, lambda last: 3, LINK),
    "cut-off-the-end": (cut_off_the_last_two, lambda last: last - 1, CUT_OFF),
}


@pytest.mark.parametrize("case", list(STRUCTURE))
def test_events_deleted_inserted_or_reordered_are_reported_with_the_reason(db, runner, trail, case):
    edit, broken_at, reason = STRUCTURE[case]
    last = trail[-1].id
    drop_append_only_triggers(db)

    edit(db, last)

    assert_broken(runner, broken_at(last), reason)


# The head has no trigger: the app moves it on every append. Any edit of it, alone, leaves it no
# longer sealing the last event, which is what a trail cut back looks like.
HEAD_TAMPERS: dict[str, tuple[str, Callable[[sa.Row], Any]]] = {
    "id": ("id", lambda head: head.id + 1),
    "last_event_id-back": ("last_event_id", lambda head: head.last_event_id - 1),
    "last_event_id-ahead": ("last_event_id", lambda head: head.last_event_id + 1),
    "last_hash": ("last_hash", lambda head: "d" * 64),
    "seal": ("seal", lambda head: "c" * 64),
}


def test_every_chain_head_column_has_a_tamper_case(db):
    migrated = {column["name"] for column in sa.inspect(db.engine).get_columns("audit_chain_head")}
    assert migrated == set(HEAD.c.keys())
    assert {column for column, _ in HEAD_TAMPERS.values()} == migrated


@pytest.mark.parametrize("case", list(HEAD_TAMPERS))
def test_editing_the_chain_head_reports_the_end_cut_off(db, runner, trail, case):
    column, new_value = HEAD_TAMPERS[case]
    head = db.session.execute(sa.select(HEAD)).one()

    sql(db, HEAD.update().values({column: new_value(head)}))

    assert_broken(runner, len(trail) + 1, CUT_OFF)


# --- known answers ----------------------------------------------------------------------------
#
# Every stored trail was hashed with exactly this format. A change of any value below makes every
# existing trail (and its head's seal) unverifiable: a format change must be a deliberate decision
# that ships with a migration re-hashing the trail, never a side effect of a refactoring.

KNOWN_KEY = "known-answer-audit-key-0123456789abcdef-0123"
KNOWN_EVENT = {
    "id": 7,
    "occurred_at": datetime(2025, 3, 10, 15, 4, 5, 123456, tzinfo=UTC),
    "actor_id": 3,
    "action": "patient_viewed",
    "entity": "patient",
    "entity_id": "42",
    "patient_id": 42,
    "changes": '{"allergies":["none known","penicillin"]}',
    "remote_addr": "203.0.113.9",
    "prev_hash": "ab" * 32,
}
KNOWN_CONTENT = (
    '{"action":"patient_viewed","actor_id":3,'
    '"changes":"{\\"allergies\\":[\\"none known\\",\\"penicillin\\"]}",'
    '"entity":"patient","entity_id":"42","id":7,'
    '"occurred_at":"2025-03-10T15:04:05.123456+00:00","patient_id":42,"remote_addr":"203.0.113.9"}'
)
KNOWN_HASH = "231ebafcb5cdf9f5de321f26e5d3a4ae2a49fa696ad95ea2b5d0c53f8652b519"
KNOWN_SEAL = "f0efd8926aa2f0290df7199e6c57c86e591b9800c4eb1dc052aa5e09fc5c791d"


@pytest.fixture
def known_key() -> Iterator[None]:
    """Hashing needs only the key: an application context without a database."""
    application = Flask("audit_known_answers")
    application.config["AUDIT_KEY"] = KNOWN_KEY
    with application.app_context():
        yield


def test_known_event_has_its_known_hash(known_key):
    event = AuditEvent(**KNOWN_EVENT)
    assert canonical_json(audit_services._event_content(event)) == KNOWN_CONTENT
    assert event_hash(event) == KNOWN_HASH
    # The recipe, spelled out: HMAC-SHA-256 under AUDIT_KEY of the previous hash and the content.
    message = (KNOWN_EVENT["prev_hash"] + KNOWN_CONTENT).encode()
    assert hmac.new(KNOWN_KEY.encode(), message, hashlib.sha256).hexdigest() == KNOWN_HASH


def test_known_head_has_its_known_seal(known_key):
    assert head_seal(5, "ab" * 32) == KNOWN_SEAL
    message = f"head:5:{'ab' * 32}".encode()
    assert hmac.new(KNOWN_KEY.encode(), message, hashlib.sha256).hexdigest() == KNOWN_SEAL


def test_canonical_json_has_one_known_form():
    value = {
        "when": datetime(2025, 3, 10, 15, 4, 5, 123456, tzinfo=UTC),
        "b": [1, {"z": None, "a": 2.5}],
        "a": "café ☕",
        "dose": Decimal("70.50"),
        "n": True,
    }
    assert canonical_json(value) == (
        '{"a":"caf\\u00e9 \\u2615","b":[1,{"a":2.5,"z":null}],"dose":"70.50","n":true,'
        '"when":"2025-03-10 15:04:05.123456+00:00"}'
    )


# --- where an event came from -----------------------------------------------------------------


def stored_origin(db, event_id: int) -> str | None:
    return db.session.scalar(sa.select(EVENTS.c.remote_addr).where(EVENTS.c.id == event_id))


def test_event_recorded_in_a_request_stores_its_remote_address(app, db):
    with app.test_request_context(environ_base={"REMOTE_ADDR": "203.0.113.5"}):
        event = record_audit_event(actor_id=None, action="test_event", entity="thing")
        db.session.commit()
    assert stored_origin(db, event.id) == "203.0.113.5"


def test_event_recorded_outside_a_request_stores_cli_as_its_origin(db):
    event = record_audit_event(actor_id=None, action="test_event", entity="thing")
    db.session.commit()
    assert stored_origin(db, event.id) == "cli"


def test_login_and_create_admin_store_where_they_came_from(db, client, runner, make_user):
    nurse = make_user(Role.NURSE)
    client.post(
        "/login",
        data={"username": nurse.username, "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "198.51.100.23"},
    )
    result = runner.invoke(args=["create-admin", "boss", "--password", "scripted-admin-password-1"])
    assert result.exit_code == 0, result.output

    origins = db.session.execute(
        sa.select(EVENTS.c.action, EVENTS.c.remote_addr)
        .where(EVENTS.c.id > 1)
        .order_by(EVENTS.c.id)
    ).all()
    assert [tuple(row) for row in origins] == [("login", "198.51.100.23"), ("staff_created", "cli")]
