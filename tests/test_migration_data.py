"""Upgrading a database made before a migration keeps its rows and fills what the migration adds.

Each test migrates an empty database to the revision before the one under test, writes rows as
the app of that time did (plain SQL, since today's models no longer match that schema), upgrades
to the head and reads what came out. On SQLite and, with TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import flask_migrate
import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from flask import Flask
from werkzeug.security import generate_password_hash

from clinic import create_app
from clinic.auth.models import PasswordHistory, User
from clinic.auth.passwords import verify_password
from clinic.database import UTCDateTime
from clinic.extensions import db as _db
from clinic.extensions import migrate
from tests.conftest import BASE_CONFIG, PASSWORD, server_url


@pytest.fixture
def empty_app(tmp_path) -> Iterator[Flask]:
    """The app on a database with no tables yet."""
    server = server_url()
    name = f"clinic_test_upgrade_{uuid.uuid4().hex[:8]}"
    if server:
        admin = sa.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = sa.engine.make_url(server).set(database=name).render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{tmp_path / 'before.sqlite3'}"
    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": url})
    try:
        with app.app_context():
            yield app
            _db.session.remove()
            _db.engine.dispose()
    finally:
        if server:
            assert re.fullmatch(r"clinic_test_upgrade_\w+", name)
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()


def revision_before(revision: str) -> str:
    script = ScriptDirectory.from_config(migrate.get_config())
    return script.get_revision(revision).down_revision


def insert_user_of_0006(username: str, password_hash: str) -> int:
    """A staff account as the schema of 0006 holds it."""
    with _db.engine.begin() as conn:
        return conn.execute(
            sa.text(
                "INSERT INTO user_account (username, full_name, credentials, role, password_hash,"
                " active, must_change_password, failed_login_count, session_token, created_at)"
                " VALUES (:username, 'Nurse Before', 'RN', 'nurse', :password_hash, :true,"
                " :false, 0, :token, :created_at) RETURNING id"
            ).bindparams(sa.bindparam("created_at", type_=UTCDateTime())),
            {
                "username": username,
                "password_hash": password_hash,
                "true": True,
                "false": False,
                "token": uuid.uuid4().hex,
                "created_at": datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
            },
        ).scalar_one()


def test_the_password_history_starts_with_each_accounts_current_password(empty_app):
    flask_migrate.upgrade(revision=revision_before("0007_password_history"))
    first = insert_user_of_0006("before-1", generate_password_hash(PASSWORD, "scrypt:1024:8:1"))
    second = insert_user_of_0006("before-2", generate_password_hash("x" * 12, "scrypt:1024:8:1"))

    flask_migrate.upgrade()

    rows = _db.session.execute(
        sa.select(
            PasswordHistory.user_id, PasswordHistory.password_hash, PasswordHistory.set_at
        ).order_by(PasswordHistory.id)
    ).all()
    assert [row.user_id for row in rows] == [first, second]
    users = {user.id: user for user in _db.session.scalars(sa.select(User))}
    assert [row.password_hash for row in rows] == [
        users[first].password_hash,
        users[second].password_hash,
    ]
    assert verify_password(rows[0].password_hash, PASSWORD)
    assert all(row.set_at.tzinfo is UTC for row in rows)
