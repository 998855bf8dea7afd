"""What the database itself refuses, whoever holds a connection: no REPLACE on SQLite rewrites an
audit event or removes a record (a REPLACE deletes the row it collides with, and that delete
fired no DELETE trigger), and no staff account is deleted or truncated away on either database.

The SQLite attacks run on a plain sqlite3 connection, as the sqlite3 shell would, without the
app's PRAGMAs; the app's own connections turn recursive_triggers on as well.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing

import pytest
import sqlalchemy as sa

from clinic.auth.models import Role
from clinic.patients.models import Patient
from clinic.sessions.models import InfusionEventKind
from clinic.sessions.services.administrations import InfusionEventDetails, record_infusion_event
from clinic.sessions.services.signoff import add_addendum
from tests.conftest import PASSWORD
from tests.factories import (
    complete_checklist,
    make_patient,
    record_administration,
    record_monitoring,
    record_scores,
    sign,
)

NEVER_DELETED = "never deleted"


CLINICAL_TABLES = (
    "patient",
    "infusion_session",
    "administration",
    "infusion_event",
    "monitoring_entry",
    "score",
    "checklist_completion",
    "signature",
    "addendum",
)


@pytest.fixture
def record(db, charting) -> dict[str, int]:
    """An audit trail, two patients and a signed session with a row in every clinical table."""
    infusion_session, nurse, clinician = (charting[k] for k in ("session", "nurse", "clinician"))
    at = charting["start"]
    record_monitoring(infusion_session, nurse, at, spo2=97)
    record_scores(infusion_session, nurse, at, pain_before=3)
    administration = record_administration(infusion_session, nurse, started_at=at)
    record_infusion_event(
        nurse,
        infusion_session.id,
        administration.id,
        InfusionEventDetails(kind=InfusionEventKind.PAUSED, occurred_at=at),
        None,
    )
    complete_checklist(infusion_session, nurse, detail="A. Driver")
    sign(infusion_session, clinician, PASSWORD)
    add_addendum(clinician, infusion_session.id, text="Late note", reason="Recalled")
    db.session.commit()
    other = make_patient(family_name="Other")
    return {"patient": infusion_session.patient_id, "other_patient": other.id}


@pytest.fixture
def shell(db, record) -> Iterator[sqlite3.Connection]:
    """A raw connection to the test's SQLite file, as someone with the file would open it,
    once the app has let go of it."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("REPLACE is SQLite's")
    db.session.commit()
    db.session.close()
    with closing(sqlite3.connect(db.engine.url.database)) as connection:
        yield connection


def refused(shell: sqlite3.Connection, statement: str, match: str) -> None:
    with pytest.raises(sqlite3.IntegrityError, match=match):
        shell.execute(statement)
    shell.rollback()


def count(shell: sqlite3.Connection, table: str) -> int:
    return shell.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_replace_of_an_audit_event_is_refused_on_sqlite(shell, record):
    before = shell.execute("SELECT * FROM audit_event WHERE id = 1").fetchone()
    refused(
        shell,
        "INSERT OR REPLACE INTO audit_event SELECT id, occurred_at, actor_id, 'rewritten', "
        "entity, entity_id, patient_id, changes, remote_addr, prev_hash, hash FROM audit_event "
        "WHERE id = 1",
        "append-only",
    )
    # The same hash under a new id collides on the hash's unique key.
    refused(
        shell,
        "INSERT OR REPLACE INTO audit_event SELECT 1000, occurred_at, actor_id, action, "
        "entity, entity_id, patient_id, changes, remote_addr, prev_hash, hash FROM audit_event "
        "WHERE id = 1",
        "append-only",
    )
    assert shell.execute("SELECT * FROM audit_event WHERE id = 1").fetchone() == before


def test_replace_of_a_patient_is_refused_on_sqlite(shell, record):
    patients = count(shell, "patient")
    other = record["other_patient"]
    refused(
        shell,
        f"INSERT OR REPLACE INTO patient SELECT * FROM patient WHERE id = {other}",
        NEVER_DELETED,
    )
    # A new row taking the other patient's MRN would delete them.
    refused(
        shell,
        "INSERT OR REPLACE INTO patient (mrn, family_name, given_name, date_of_birth, sex, "
        "allergies, indication, emergency_contact_name, emergency_contact_phone, created_at, "
        "updated_at, version) SELECT mrn, 'X', 'Y', date_of_birth, sex, '', indication, '', '', "
        f"created_at, updated_at, 1 FROM patient WHERE id = {other}",
        NEVER_DELETED,
    )
    # So would an UPDATE OR REPLACE moving one patient onto the other's MRN or id.
    for change in ("mrn = (SELECT mrn FROM patient WHERE id = {other})", "id = {other}"):
        refused(
            shell,
            f"UPDATE OR REPLACE patient SET {change.format(other=other)} "
            f"WHERE id = {record['patient']}",
            NEVER_DELETED,
        )
    assert count(shell, "patient") == patients


@pytest.mark.parametrize("table", CLINICAL_TABLES)
def test_replace_of_a_clinical_row_is_refused_on_sqlite(shell, record, table):
    rows = shell.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
    assert rows, f"the record has no {table} row"
    first = f"(SELECT min(id) FROM {table})"
    refused(
        shell,
        f"INSERT OR REPLACE INTO {table} SELECT * FROM {table} WHERE id = {first}",
        NEVER_DELETED,
    )
    assert shell.execute(f"SELECT * FROM {table} ORDER BY id").fetchall() == rows


def test_replace_of_a_monitoring_entry_through_the_app_fires_the_delete_trigger(db, record):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("REPLACE is SQLite's")
    assert db.session.execute(sa.text("PRAGMA recursive_triggers")).scalar() == 1
    with pytest.raises(sa.exc.IntegrityError, match=NEVER_DELETED):
        db.session.execute(
            sa.text("INSERT OR REPLACE INTO monitoring_entry SELECT * FROM monitoring_entry")
        )
    db.session.rollback()


def test_a_new_row_is_still_accepted(shell, record):
    # The guard refuses collisions only: a new patient with a new MRN goes in.
    shell.execute(
        "INSERT OR REPLACE INTO patient (mrn, family_name, given_name, date_of_birth, sex, "
        "allergies, indication, emergency_contact_name, emergency_contact_phone, created_at, "
        "updated_at, version) VALUES ('NEW-1', 'New', 'Patient', '1980-01-01', 'female', '', "
        "'depression', '', '', '2026-01-01 00:00:00', '2026-01-01 00:00:00', 1)"
    )
    shell.commit()
    assert count(shell, "patient") == 3


def test_replace_of_a_user_is_refused_on_sqlite(shell, record):
    users = count(shell, "user_account")
    refused(
        shell,
        "INSERT OR REPLACE INTO user_account SELECT * FROM user_account WHERE id = 1",
        "staff accounts are never deleted",
    )
    # The same username in another case collides with 0001's case-insensitive index.
    refused(
        shell,
        "INSERT OR REPLACE INTO user_account (username, full_name, credentials, role, "
        "password_hash, active, must_change_password, session_token, "
        "created_at) SELECT upper(username), 'X', '', 'admin', 'x', 1, 0, 'other-token', "
        "created_at FROM user_account WHERE id = 1",
        "staff accounts are never deleted",
    )
    assert count(shell, "user_account") == users


def test_the_database_refuses_to_delete_a_user(db, make_user):
    user = make_user(Role.NURSE)
    with pytest.raises(sa.exc.DBAPIError, match="staff accounts are never deleted"):
        db.session.execute(sa.text("DELETE FROM user_account WHERE id = :id"), {"id": user.id})
    db.session.rollback()
    assert db.session.get(type(user), user.id) is not None


@pytest.mark.parametrize(
    ("table", "message"),
    [("user_account", "staff accounts are never deleted"), ("patient", NEVER_DELETED)],
)
def test_postgresql_refuses_to_truncate_users_and_records(db, make_user, table, message):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL's")
    make_user(Role.NURSE)
    make_patient()
    with pytest.raises(sa.exc.DBAPIError, match=message):
        db.session.execute(sa.text(f"TRUNCATE {table} CASCADE"))
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Patient)) == 1
