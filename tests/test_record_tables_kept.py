"""The record tables of issue 13 and after (consents; courses, their reviews and orders; the
screening, adverse events, discharge assessments, REMS forms and the register) are kept as the
clinical tables are (migrations 0003, 0006): the database refuses to delete a row on either
database, to replace one on SQLite (a REPLACE deletes the row it collides with) and to truncate
the table on PostgreSQL, whoever holds a connection. Every other table is listed with the reason
its rows may go."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from decimal import Decimal

import pytest
import sqlalchemy as sa

from clinic.administration_terms import Method, Route
from clinic.auth.models import Role
from clinic.orders.models import OrderKind
from clinic.orders.services import OrderDetails, write_order
from clinic.patients.courses.services import clinic_today, review_course
from tests.conftest import PASSWORD
from tests.factories import give_consent, make_patient, open_course_for

NEVER_DELETED = "never deleted"
TABLES = ("consent", "treatment_course", "course_review", "medication_order")


@pytest.fixture
def record(db, make_user) -> None:
    """A row in every table."""
    nurse, clinician = make_user(Role.NURSE), make_user(Role.CLINICIAN)
    patient = make_patient()
    give_consent(patient, nurse)
    course = open_course_for(patient, clinician)
    review_course(clinician, patient.id, course.id, clinic_today(), "Responding", None)
    ketamine = OrderDetails(
        OrderKind.TREATMENT, "Ketamine", Decimal("35"), "mg", Route.IV, Method.INFUSION
    )
    write_order(clinician, patient.id, ketamine, PASSWORD, None, course_id=course.id)
    db.session.commit()


@pytest.mark.parametrize("table", TABLES)
def test_a_row_is_never_deleted(db, record, table):
    with pytest.raises(sa.exc.DatabaseError, match=NEVER_DELETED):
        db.session.execute(sa.text(f"DELETE FROM {table}"))
    db.session.rollback()
    assert db.session.scalar(sa.text(f"SELECT count(*) FROM {table}")) > 0


@pytest.mark.parametrize("table", TABLES)
def test_a_row_is_never_replaced_on_sqlite(db, record, table):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("REPLACE is SQLite's")
    db.session.commit()
    db.session.close()
    with closing(sqlite3.connect(db.engine.url.database)) as shell:
        rows = shell.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
        first = f"(SELECT min(id) FROM {table})"
        with pytest.raises(sqlite3.IntegrityError, match=NEVER_DELETED):
            shell.execute(
                f"INSERT OR REPLACE INTO {table} SELECT * FROM {table} WHERE id = {first}"
            )
        shell.rollback()
        assert shell.execute(f"SELECT * FROM {table} ORDER BY id").fetchall() == rows


@pytest.mark.parametrize("table", TABLES)
def test_a_table_is_never_truncated_on_postgresql(db, record, table):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL's")
    with pytest.raises(sa.exc.DBAPIError, match=NEVER_DELETED):
        db.session.execute(sa.text(f"TRUNCATE {table} CASCADE"))
    db.session.rollback()


# Tables whose rows may be deleted or changed, each for a reason; every other table of the
# schema has a no-delete trigger, so a new table of the record cannot be forgotten.
WORKING_TABLES = {
    "alembic_version": "the migrations' own bookkeeping",
    "audit_chain_head": "the chain's head moves with each event; the anchor proves it",
    "checklist_item": "configuration: the clinic's checklist; completions keep their label",
    "consent_type": "configuration: what a consent can be for",
    "form_submission": "one-time form keys, a working store",
    "password_history": "hashes of earlier passwords, trimmed to the last few",
    "recovery_code": "second-factor recovery codes, spent and replaced",
    "sign_in_throttle": "failed sign-in counts, cleared when they expire",
}


def _tables_refusing_delete(db) -> set[str]:
    """The tables with a trigger that fires on DELETE, whatever the migration named it."""
    if db.engine.dialect.name == "postgresql":
        query = (
            "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE NOT t.tgisinternal AND (t.tgtype & 8) <> 0"  # 8: TRIGGER_TYPE_DELETE
        )
        return set(db.session.scalars(sa.text(query)))
    rows = db.session.execute(
        sa.text("SELECT tbl_name, sql FROM sqlite_master WHERE type = 'trigger'")
    )
    return {table for table, sql in rows if " DELETE ON " in " ".join(sql.upper().split())}


def test_every_table_of_the_record_refuses_deletion(db):
    tables = set(sa.inspect(db.engine).get_table_names())
    unprotected = tables - _tables_refusing_delete(db)
    assert unprotected == set(WORKING_TABLES), (
        "a table without a trigger refusing DELETE: protect it in its migration, or list it in "
        "WORKING_TABLES with the reason its rows may go"
    )


def test_an_instruction_text_given_is_never_changed_nor_deleted(db):
    text = db.session.scalars(sa.text("SELECT id FROM instruction_text")).first()
    assert text is not None  # the migration's first version
    for statement in (
        "UPDATE instruction_text SET body = 'edited' WHERE id = :id",
        "UPDATE instruction_text SET version = '9' WHERE id = :id",
        "DELETE FROM instruction_text WHERE id = :id",
    ):
        with pytest.raises(sa.exc.DatabaseError, match="kept as given"):
            db.session.execute(sa.text(statement), {"id": text})
        db.session.rollback()
    # Whether it is still offered may change: a newer version takes its place.
    db.session.execute(
        sa.text("UPDATE instruction_text SET active = :no WHERE id = :id"),
        {"id": text, "no": False},
    )
    db.session.commit()
