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
from clinic.auth.models import PasswordHistory, RecoveryCode, SignInThrottle, User
from clinic.auth.passwords import verify_password
from clinic.auth.second_factor import SecondStep, step_due
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


def schema_objects_on_user_account() -> set[str]:
    """The names of the triggers and indexes on user_account."""
    with _db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            names = conn.execute(
                sa.text(
                    "SELECT tgname FROM pg_trigger WHERE tgrelid = 'user_account'::regclass"
                    " AND NOT tgisinternal UNION SELECT indexname FROM pg_indexes"
                    " WHERE tablename = 'user_account'"
                )
            )
        else:
            names = conn.execute(
                sa.text("SELECT name FROM sqlite_master WHERE tbl_name = 'user_account'")
            )
        return set(names.scalars()) - {"user_account"}


def test_the_account_lock_columns_go_and_the_accounts_stay_whole(empty_app):
    flask_migrate.upgrade(revision=revision_before("0008_sign_in_throttle"))
    password_hash = generate_password_hash(PASSWORD, "scrypt:1024:8:1")
    nurse = insert_user_of_0006("Nurse.Locked", password_hash)
    with _db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE user_account SET failed_login_count = 3, locked_until = :until"
                " WHERE id = :id"
            ).bindparams(sa.bindparam("until", type_=UTCDateTime())),
            {"id": nurse, "until": datetime(2026, 1, 5, 9, 15, tzinfo=UTC)},
        )
    before = schema_objects_on_user_account()

    flask_migrate.upgrade()

    columns = {column["name"] for column in sa.inspect(_db.engine).get_columns("user_account")}
    assert not {"failed_login_count", "locked_until"} & columns
    # Dropped in place, not by rebuilding the table: its triggers and indexes are all there.
    assert schema_objects_on_user_account() == before
    assert "uq_user_account_username_lower" in before
    with pytest.raises(sa.exc.IntegrityError):
        insert_user_of_0008("nurse.locked")
    user = _db.session.get(User, nurse)
    assert (user.username, user.password_hash, user.active) == ("Nurse.Locked", password_hash, True)
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(SignInThrottle)) == 0


def insert_user_of_0008(username: str) -> None:
    with _db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO user_account (username, full_name, credentials, role, password_hash,"
                " active, must_change_password, session_token, created_at)"
                " VALUES (:username, 'Other', '', 'nurse', 'x', :true, :false, :token,"
                " :created_at)"
            ).bindparams(sa.bindparam("created_at", type_=UTCDateTime())),
            {
                "username": username,
                "true": True,
                "false": False,
                "token": uuid.uuid4().hex,
                "created_at": datetime(2026, 1, 6, 9, 0, tzinfo=UTC),
            },
        )


def insert_user_of_0011(username: str, role: str) -> tuple[int, str]:
    """A staff account as the schema of 0011 holds it; its id and session token."""
    token = uuid.uuid4().hex
    with _db.engine.begin() as conn:
        user_id = conn.execute(
            sa.text(
                "INSERT INTO user_account (username, full_name, credentials, role, password_hash,"
                " active, must_change_password, session_token, created_at)"
                " VALUES (:username, 'Before', '', :role, 'x', :true, :false, :token,"
                " :created_at) RETURNING id"
            ).bindparams(sa.bindparam("created_at", type_=UTCDateTime())),
            {
                "username": username,
                "role": role,
                "true": True,
                "false": False,
                "token": token,
                "created_at": datetime(2026, 1, 7, 9, 0, tzinfo=UTC),
            },
        ).scalar_one()
    return user_id, token


def test_clinicians_and_admins_carried_set_up_a_second_factor_at_their_next_sign_in(empty_app):
    flask_migrate.upgrade(revision=revision_before("0012_second_factor"))
    carried = {
        role: insert_user_of_0011(f"{role}.before", role)
        for role in ("nurse", "clinician", "admin")
    }
    before = schema_objects_on_user_account()

    flask_migrate.upgrade()
    # Added in place, not by rebuilding the table: its triggers and indexes are all there.
    assert schema_objects_on_user_account() == before

    users = {user.role.value: user for user in _db.session.scalars(sa.select(User))}
    nurse, clinician, admin = users["nurse"], users["clinician"], users["admin"]
    assert not nurse.must_enrol_second_factor
    assert nurse.session_token == carried["nurse"][1]  # her open session goes on
    assert step_due(nurse) is None
    for user in (clinician, admin):
        assert user.must_enrol_second_factor
        assert user.session_token != carried[user.role.value][1]  # signed out: asked at once
        assert step_due(user) == SecondStep.ENROL
    for user in users.values():
        assert user.id == carried[user.role.value][0]
        assert user.second_factor_secret is None and user.second_factor_enrolled_at is None
        assert user.second_factor_last_step is None and user.second_factor_reset_at is None
        assert (user.username, user.password_hash) == (f"{user.role.value}.before", "x")
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(RecoveryCode)) == 0
