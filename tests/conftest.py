"""Fixtures: every test gets its own freshly migrated database.

The schema is built once per run by the real Alembic migrations into a template (a SQLite file,
or a PostgreSQL template database when TEST_DATABASE_URL points at a server), then cloned for each
test: fast, and the tests run against exactly what production migrates to, triggers included.
Everything created is removed at the end.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import flask_migrate
import pytest
import sqlalchemy as sa
from flask import Flask, g
from flask.testing import FlaskClient

from clinic import create_app
from clinic.auth.models import Role, User
from clinic.extensions import db as _db
from clinic.staff.services import StaffDetails, create_user

PASSWORD = "correct-horse-battery-42"
BASE_CONFIG: dict[str, Any] = {
    "CLINIC_ENV": "testing",
    "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
    "AUDIT_KEY": "test-audit-key-that-is-long-enough-0123456789",
    "WTF_CSRF_ENABLED": False,
    "LOGIN_RATE_LIMIT": "1000 per minute",
    "RATELIMIT_STORAGE_URI": "memory://",
}


def server_url() -> str | None:
    """The PostgreSQL server to test on, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres."""
    return os.environ.get("TEST_DATABASE_URL") or None


class DatabaseFactory:
    """Makes a migrated template once and a clone of it per test."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.server = server_url()
        self.prefix = f"clinic_test_{uuid.uuid4().hex[:8]}"
        self.created: list[str] = []
        self.template = self._new_url("tpl")
        app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": self.template})
        with app.app_context():
            flask_migrate.upgrade()
            _db.session.remove()
            _db.engine.dispose()

    @property
    def dialect(self) -> str:
        return "postgresql" if self.server else "sqlite"

    def _admin_engine(self) -> sa.Engine:
        assert self.server
        return sa.create_engine(self.server, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)

    def _new_url(self, suffix: str, template: str | None = None) -> str:
        if not self.server:
            path = self.workdir / f"{suffix}.sqlite3"
            if template:
                shutil.copyfile(template.removeprefix("sqlite:///"), path)
            return f"sqlite:///{path}"
        name = f"{self.prefix}_{suffix}"
        clause = f" TEMPLATE {sa.engine.make_url(template).database}" if template else ""
        with self._admin_engine().connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"{clause}')
        self.created.append(name)
        return sa.engine.make_url(self.server).set(database=name).render_as_string(False)

    def clone(self) -> str:
        return self._new_url(uuid.uuid4().hex[:10], template=self.template)

    def drop(self, url: str) -> None:
        if not self.server:
            Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
            return
        name = sa.engine.make_url(url).database
        assert name and re.fullmatch(r"clinic_test_\w+", name)
        with self._admin_engine().connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.remove(name)

    def drop_all(self) -> None:
        for name in list(self.created):
            self.drop(sa.engine.make_url(self.server).set(database=name).render_as_string(False))


@pytest.fixture(scope="session")
def database_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(tmp_path_factory.mktemp("db"))
    yield factory
    factory.drop_all()


@pytest.fixture
def database_url(database_factory: DatabaseFactory) -> Iterator[str]:
    url = database_factory.clone()
    yield url
    database_factory.drop(url)


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
    ) -> User:
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
        return user

    return make


def login(client: FlaskClient, username: str, password: str = PASSWORD) -> Any:
    return client.post("/login", data={"username": username, "password": password})


@pytest.fixture
def login_as(client: FlaskClient, make_user: Callable[..., User]) -> Callable[..., User]:
    """Sign the test client in as a new user of the given role."""

    def sign_in(role: Role = Role.NURSE, **kwargs: Any) -> User:
        user = make_user(role, **kwargs)
        response = login(client, user.username, kwargs.get("password", PASSWORD))
        assert response.status_code == 302, response.get_data(as_text=True)
        return user

    return sign_in
