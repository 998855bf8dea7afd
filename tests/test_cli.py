"""Command line: create-admin, bootstrap-admin; the configuration refuses unsafe production."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from clinic import create_app
from clinic.auth.models import Role, User
from clinic.config import ConfigError, build_config
from clinic.extensions import db as _db
from tests.conftest import BASE_CONFIG, login

ADMIN_PASSWORD = "scripted-admin-password-1"


def users(db) -> list[User]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(User).order_by(User.id)))


def test_create_admin_creates_an_active_admin_without_forced_change(runner, db, client):
    result = runner.invoke(args=["create-admin", "boss", "--password", ADMIN_PASSWORD])
    assert result.exit_code == 0, result.output
    [user] = users(db)
    assert (user.username, user.role, user.active) == ("boss", Role.ADMIN, True)
    assert not user.must_change_password
    # An admin sets up a second factor at the first sign-in.
    assert login(client, "boss", ADMIN_PASSWORD).location == "/login/second-factor"


def test_create_admin_refuses_a_weak_password(runner, db):
    result = runner.invoke(args=["create-admin", "boss", "--password", "short"])
    assert result.exit_code != 0
    assert "at least 12 characters" in result.output
    assert users(db) == []


def test_create_admin_refuses_a_taken_username(runner, db, make_user):
    make_user(Role.NURSE, username="boss")
    result = runner.invoke(args=["create-admin", "BOSS", "--password", ADMIN_PASSWORD])
    assert result.exit_code != 0
    assert "taken" in result.output
    assert len(users(db)) == 1


@pytest.mark.parametrize(
    ("username", "message"),
    [
        ("b", "Use 2 to 64 characters."),
        ("b" * 65, "Use 2 to 64 characters."),
        ("the boss", "Use letters, digits, dots, dashes or underscores."),
        ("boss<script>", "Use letters, digits, dots, dashes or underscores."),
        ("böss", "Use letters, digits, dots, dashes or underscores."),
    ],
)
def test_create_admin_applies_the_staff_forms_username_rules(runner, db, username, message):
    result = runner.invoke(args=["create-admin", username, "--password", ADMIN_PASSWORD])
    assert result.exit_code != 0
    assert message in result.output
    assert users(db) == []


def test_create_admin_takes_a_username_the_staff_form_takes(runner, db):
    result = runner.invoke(args=["create-admin", "J.Doe_2-x", "--password", ADMIN_PASSWORD])
    assert result.exit_code == 0, result.output
    assert [user.username for user in users(db)] == ["J.Doe_2-x"]


def test_bootstrap_admin_on_empty_database_prints_a_one_time_password(runner, db, client):
    result = runner.invoke(args=["bootstrap-admin"])
    assert result.exit_code == 0, result.output
    match = re.search(r"password: (\S+)", result.output)
    assert match
    password = match.group(1)
    [user] = users(db)
    assert (user.username, user.role) == ("admin", Role.ADMIN)
    assert user.must_change_password
    # The second factor first, then the password (tests/test_second_factor.py).
    assert login(client, "admin", password).location == "/login/second-factor"


def test_bootstrap_admin_does_nothing_when_users_exist(runner, db):
    assert runner.invoke(args=["bootstrap-admin"]).exit_code == 0
    [admin] = users(db)
    again = runner.invoke(args=["bootstrap-admin"])
    assert again.exit_code == 0
    assert again.output == ""
    assert [u.id for u in users(db)] == [admin.id]


def test_bootstrap_admin_does_nothing_when_any_account_exists(runner, db, make_user):
    make_user(Role.NURSE)
    result = runner.invoke(args=["bootstrap-admin"])
    assert result.output == ""
    assert [u.role for u in users(db)] == [Role.NURSE]


# --- configuration ----------------------------------------------------------------------------


@pytest.fixture
def clean_environment(monkeypatch):
    for name in (
        "SECRET_KEY",
        "AUDIT_KEY",
        "CLINIC_ENV",
        "DATABASE_URL",
        "RATELIMIT_STORAGE_URI",
        "WEB_CONCURRENCY",
    ):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


LONG_KEY = "k" * 40


@pytest.mark.parametrize(
    "overrides",
    [
        {"CLINIC_ENV": "production"},
        {"CLINIC_ENV": "production", "SECRET_KEY": LONG_KEY},
        {"CLINIC_ENV": "production", "AUDIT_KEY": LONG_KEY},
        {"CLINIC_ENV": "production", "SECRET_KEY": "short", "AUDIT_KEY": LONG_KEY},
    ],
)
def test_production_refuses_to_start_without_its_keys(clean_environment, tmp_path, overrides):
    with pytest.raises(ConfigError):
        build_config(str(tmp_path), overrides)
    assert not (tmp_path / "secret_key").exists()


def test_production_is_the_default_environment(clean_environment, tmp_path):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        build_config(str(tmp_path))


def test_production_keys_come_from_the_environment(clean_environment, tmp_path):
    # Random keys and a database: production refuses typed keys and a SQLite fallback
    # (tests/test_bounded_input.py).
    secret_key, audit_key = secrets.token_hex(32), secrets.token_hex(32)
    clean_environment.setenv("SECRET_KEY", secret_key)
    clean_environment.setenv("AUDIT_KEY", audit_key)
    clean_environment.setenv("DATABASE_URL", "postgresql+psycopg://clinic@db-host/clinic")
    clean_environment.setenv("WEB_CONCURRENCY", "1")  # memory:// limits: one worker
    config = build_config(str(tmp_path))
    assert config["CLINIC_ENV"] == "production"
    assert (config["SECRET_KEY"], config["AUDIT_KEY"]) == (secret_key, audit_key)
    assert config["SESSION_COOKIE_SECURE"] is True


def test_unknown_environment_is_refused(clean_environment, tmp_path):
    with pytest.raises(ConfigError):
        build_config(str(tmp_path), {"CLINIC_ENV": "staging"})


def test_development_generates_and_keeps_its_keys(clean_environment, tmp_path):
    first = build_config(str(tmp_path), {"CLINIC_ENV": "development"})
    second = build_config(str(tmp_path), {"CLINIC_ENV": "development"})
    assert first["SECRET_KEY"] and first["AUDIT_KEY"]
    assert first["SECRET_KEY"] != first["AUDIT_KEY"]
    assert (first["SECRET_KEY"], first["AUDIT_KEY"]) == (second["SECRET_KEY"], second["AUDIT_KEY"])
    assert first["SESSION_COOKIE_SECURE"] is False


def create_app_for(database_url: str) -> Flask:
    return create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": database_url})


def test_a_command_on_an_unmigrated_database_says_so_in_one_line(tmp_path):
    empty = create_app_for(f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    with empty.app_context():
        result = empty.test_cli_runner().invoke(args=["audit", "verify"])
        _db.session.remove()
        _db.engine.dispose()
    assert result.exit_code == 1
    assert "no clinic tables yet: run `make migrate`" in result.output
    assert "Traceback" not in result.output


def test_the_entry_point_without_its_keys_stops_with_one_line(clean_environment, tmp_path):
    environment = {**os.environ, "CLINIC_ENV": "production"}
    completed = subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        cwd=Path(__file__).resolve().parent.parent,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 1
    assert completed.stderr.strip().splitlines() == [
        "clinic: SECRET_KEY must be set in the environment in production (CLINIC_ENV is "
        "'production'; on a development machine set CLINIC_ENV=development, as the make "
        "targets do)"
    ]
