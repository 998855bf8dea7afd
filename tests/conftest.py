"""Fixtures: every test gets its own freshly migrated database.

The schema is built once per run by the real Alembic migrations (into a SQLite file, or a
PostgreSQL database when TEST_DATABASE_URL points at a server) and each test starts from that
state: the tests run against exactly what production migrates to, triggers included. Everything
created is removed at the end.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import flask_migrate
import pytest
import sqlalchemy as sa
from flask import Flask, g
from flask.testing import FlaskClient

from clinic import create_app
from clinic.auth.models import Role, User
from clinic.auth.services import find_user_by_username
from clinic.database import utcnow
from clinic.extensions import db as _db
from clinic.staff.services import StaffDetails, create_user
from tests.factories import make_patient, open_session_for
from tests.helpers import minute
from tests.second_factor_codes import enrol, fresh_code

PASSWORD = "correct-horse-battery-42"
BASE_CONFIG: dict[str, Any] = {
    "CLINIC_ENV": "testing",
    "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
    "AUDIT_KEY": "test-audit-key-that-is-long-enough-0123456789",
    "WTF_CSRF_ENABLED": False,
    "LOGIN_RATE_LIMIT": "1000 per minute",
    "RATELIMIT_STORAGE_URI": "memory://",
    # Still scrypt, with a small work factor: the suite hashes hundreds of passwords.
    "PASSWORD_HASH_METHOD": "scrypt:1024:8:1",
    # Histories are charted on fixed dates that age as the calendar moves on; the window a
    # session may be opened in is tested on its own (tests/test_bounded_input.py).
    "SESSION_START_MAX_DAYS_PAST": 36500,
}


def server_url() -> str | None:
    """The PostgreSQL server to test on, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres."""
    return os.environ.get("TEST_DATABASE_URL") or None


class DatabaseFactory:
    """Gives each test a database in the state the migrations leave it.

    SQLite: the migrated file is copied per test. PostgreSQL: creating and dropping a database
    per test costs over a second, so one migrated database is reset before each test instead:
    every table is truncated (triggers off for the reset only, so the append-only audit table can
    be emptied) and the rows the migrations seed are put back.
    """

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.server = server_url()
        self.name = f"clinic_test_{uuid.uuid4().hex[:8]}"
        if self.server:
            with self._admin_engine().connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{self.name}"')
            self.url = sa.engine.make_url(self.server).set(database=self.name)
            self.url = self.url.render_as_string(hide_password=False)
        else:
            self.url = f"sqlite:///{workdir / 'migrated.sqlite3'}"
        app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": self.url})
        try:
            with app.app_context():
                try:
                    flask_migrate.upgrade()
                finally:
                    _db.session.remove()
                    _db.engine.dispose()
        except Exception:
            self.drop_all()  # a migration that fails must not leave its database behind
            raise
        if self.server:
            self.seeded = self._seeded_rows()
            self.triggers = self._trigger_definitions()

    def _admin_engine(self) -> sa.Engine:
        assert self.server
        return sa.create_engine(self.server, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)

    def _engine(self) -> sa.Engine:
        return sa.create_engine(self.url, poolclass=sa.NullPool)

    def _seeded_rows(self) -> dict[sa.Table, list[dict[str, Any]]]:
        metadata = sa.MetaData()
        engine = self._engine()
        metadata.reflect(engine)
        with engine.connect() as conn:
            return {
                table: [dict(row._mapping) for row in conn.execute(sa.select(table))]
                for table in metadata.sorted_tables
                if table.name != "alembic_version"
            }

    def _trigger_definitions(self) -> dict[str, str]:
        with self._engine().connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal"
                )
            )
            return dict(rows.all())

    def fresh(self) -> str:
        if not self.server:
            path = self.workdir / f"{uuid.uuid4().hex[:10]}.sqlite3"
            shutil.copyfile(self.workdir / "migrated.sqlite3", path)
            return f"sqlite:///{path}"
        self._reset()
        return self.url

    def _reset(self) -> None:
        with self._admin_engine().connect() as conn:
            # A test that failed half-way may have left connections (threads) behind.
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": self.name},
            )
        with self._engine().begin() as conn:
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            names = ", ".join(f'"{table.name}"' for table in self.seeded)
            conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
            for table, rows in self.seeded.items():
                if rows:
                    conn.execute(sa.insert(table), rows)
            # Tests that play the attacker drop the append-only triggers: put them back.
            present = set(conn.exec_driver_sql("SELECT tgname FROM pg_trigger").scalars())
            for name, definition in self.triggers.items():
                if name not in present:
                    conn.exec_driver_sql(definition)
            # Seeded rows came with explicit ids: move each sequence past them.
            for table, rows in self.seeded.items():
                if rows and "id" in table.c and table.c.id.autoincrement is not False:
                    conn.execute(
                        sa.text(
                            f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', 'id'), "
                            f'(SELECT MAX(id) FROM "{table.name}"))'
                        )
                    )

    def release(self, url: str) -> None:
        if not self.server:
            Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)

    def drop_all(self) -> None:
        if self.server:
            assert re.fullmatch(r"clinic_test_\w+", self.name)
            with self._admin_engine().connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(tmp_path_factory.mktemp("db"))
    yield factory
    factory.drop_all()


@pytest.fixture
def database_url(database_factory: DatabaseFactory) -> Iterator[str]:
    url = database_factory.fresh()
    yield url
    database_factory.release(url)


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Overridden by tests that need another setting."""
    return {}


class FreshRequestClient(FlaskClient):
    """A test client whose every request starts with an empty `g`.

    The `app` fixture keeps one application context pushed for the whole test, and a request
    reuses a pushed context, so without this `g` would carry over from one request to the next:
    Flask-Login's cached user (a replayed or rotated cookie would still be "signed in", another
    client would act as the previous one) and Flask-WTF's `csrf_valid` flag (a POST without token
    would pass after any valid one). In production every request has a context of its own.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        for name in list(vars(g)):
            delattr(g, name)
        return super().open(*args, **kwargs)


@pytest.fixture
def app(database_url: str, app_config: dict[str, Any]) -> Iterator[Flask]:
    application = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": database_url, **app_config})
    application.test_client_class = FreshRequestClient
    with application.app_context():
        yield application
        _db.session.remove()
        _db.engine.dispose()


@pytest.fixture
def db(app: Flask) -> Any:
    return _db


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    return app.test_cli_runner()


@pytest.fixture
def make_user(app: Flask) -> Callable[..., User]:
    def make(
        role: Role = Role.NURSE,
        username: str | None = None,
        password: str = PASSWORD,
        full_name: str | None = None,
        credentials: str | None = None,
        must_change_password: bool = False,
        second_factor: bool | None = None,
    ) -> User:
        """A new account; clinicians and admins with their second factor set up (the secret of
        tests/second_factor_codes.py) unless `second_factor` says otherwise."""
        username = username or f"{role.value}-{uuid.uuid4().hex[:6]}"
        user = create_user(
            None,
            username,
            StaffDetails(
                full_name=full_name or f"Test {role.value.title()}",
                credentials=credentials
                if credentials is not None
                else {"nurse": "RN", "clinician": "MD", "admin": ""}[role.value],
                role=role,
            ),
            password,
            must_change_password=must_change_password,
        )
        _db.session.commit()
        if second_factor is None:
            second_factor = role in (Role.CLINICIAN, Role.ADMIN)
        if second_factor:
            enrol(user)
        return user

    return make


def login(
    client: FlaskClient, username: str, password: str = PASSWORD, code: str | None = None
) -> Any:
    """Sign in with the password and, where the sign-in asks for it, the second factor's code
    (a fresh one of tests/second_factor_codes.py unless given); the last answer."""
    response = client.post("/login", data={"username": username, "password": password})
    if response.status_code == 302 and urlsplit(response.location).path == "/login/code":
        if code is None:
            user = find_user_by_username(username)
            assert user is not None
            code = fresh_code(user)
            # End the read: another app on the same SQLite file must be free to write.
            _db.session.commit()
        response = client.post(response.location, data={"code": code})
    return response


@pytest.fixture
def login_as(client: FlaskClient, make_user: Callable[..., User]) -> Callable[..., User]:
    """Sign the test client in as a new user of the given role."""

    def sign_in(role: Role = Role.NURSE, **kwargs: Any) -> User:
        user = make_user(role, **kwargs)
        response = login(client, user.username, kwargs.get("password", PASSWORD))
        assert response.status_code == 302, response.get_data(as_text=True)
        return user

    return sign_in


@pytest.fixture
def chart_start() -> datetime:
    """When the `charting` session started; a module overrides it for another start."""
    return minute(utcnow()) - timedelta(minutes=30)


@pytest.fixture
def charting(
    login_as: Callable[..., User], make_user: Callable[..., User], chart_start: datetime
) -> dict[str, Any]:
    """A nurse signed in on an open session of a new patient, with its attending clinician."""
    nurse = login_as(Role.NURSE)
    clinician = make_user(Role.CLINICIAN, full_name="Dr Orders")
    infusion_session = open_session_for(make_patient(), nurse, clinician, started_at=chart_start)
    return {
        "nurse": nurse,
        "clinician": clinician,
        "session": infusion_session,
        "start": chart_start,
    }
