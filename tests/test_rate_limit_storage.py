"""The login rate limit is whole in production (issue 12, finding 6).

Flask-Limiter's default memory:// storage counts in each worker apart: two gunicorn workers let
through twice the advertised limit. Production refuses to start with it unless the operator says
there is one worker (WEB_CONCURRENCY=1, the variable gunicorn reads for its worker count), with
one line naming the setting; a shared store (redis://) is taken as it is.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from clinic.config import ConfigError, build_config

MESSAGE = (
    "RATELIMIT_STORAGE_URI is memory://, which each worker counts apart: in production set it "
    "to a shared store (e.g. redis://host:6379), or run one worker and say so with "
    "WEB_CONCURRENCY=1"
)


@pytest.fixture
def production(monkeypatch) -> dict[str, str]:
    """A production environment that lacks nothing but a decision on the limit's storage."""
    for name in ("RATELIMIT_STORAGE_URI", "WEB_CONCURRENCY", "CLINIC_ENV"):
        monkeypatch.delenv(name, raising=False)
    environment = {
        "CLINIC_ENV": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "AUDIT_KEY": secrets.token_hex(32),
        "DATABASE_URL": "postgresql+psycopg://clinic@db-host/clinic",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return environment


@pytest.mark.parametrize("workers", [None, "0", "2", "4"])
def test_production_refuses_per_worker_limits_unless_one_worker(
    production, monkeypatch, tmp_path, workers
):
    if workers is not None:
        monkeypatch.setenv("WEB_CONCURRENCY", workers)
    with pytest.raises(ConfigError) as refused:
        build_config(str(tmp_path))
    assert str(refused.value) == MESSAGE


def test_production_takes_memory_limits_with_one_worker(production, monkeypatch, tmp_path):
    monkeypatch.setenv("WEB_CONCURRENCY", "1")
    config = build_config(str(tmp_path))
    assert config["RATELIMIT_STORAGE_URI"] == "memory://"


def test_production_takes_a_shared_store_with_any_number_of_workers(
    production, monkeypatch, tmp_path
):
    monkeypatch.setenv("RATELIMIT_STORAGE_URI", "redis://127.0.0.1:6379")
    monkeypatch.setenv("WEB_CONCURRENCY", "4")
    assert build_config(str(tmp_path))["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379"


@pytest.mark.parametrize("env", ["development", "testing"])
def test_development_and_tests_keep_memory_limits(production, monkeypatch, tmp_path, env):
    monkeypatch.setenv("CLINIC_ENV", env)
    monkeypatch.setenv("WEB_CONCURRENCY", "4")
    assert build_config(str(tmp_path))["RATELIMIT_STORAGE_URI"] == "memory://"


def test_the_entry_point_stops_with_one_line(production):
    completed = subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        cwd=Path(__file__).resolve().parent.parent,
        env={**os.environ, **production},
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 1
    assert completed.stderr.strip().splitlines() == [f"clinic: {MESSAGE}"]
