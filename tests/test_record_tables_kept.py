"""The record tables of issue 13 (consents; courses, their reviews and orders as they come) are
kept as the clinical tables are (migrations 0003, 0006): the database refuses to delete a row on
either database, to replace one on SQLite (a REPLACE deletes the row it collides with) and to
truncate the table on PostgreSQL, whoever holds a connection."""

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
