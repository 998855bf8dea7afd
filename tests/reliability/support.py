"""What the reliability tests share: a database of their own, gunicorn servers, an HTTP client.

The servers are the real `wsgi:app` under gunicorn on loopback (bench/run.py's launcher, reused),
so the tests see what production sees: several processes, no shared memory, one PostgreSQL.
Everything is bounded in time and torn down in `finally` blocks.
"""

from __future__ import annotations

import http.client
import http.cookies
import os
import random
import re
import secrets
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import flask_migrate
import pytest
import sqlalchemy as sa

from bench.client import form_with_field
from bench.run import gunicorn
from clinic import create_app
from clinic.extensions import db
from tests.conftest import BASE_CONFIG, server_url

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
USER_AGENT = "clinic-reliability/1"
SESSION_COOKIE = "clinic_session"
SECRET_KEY = "reliability-secret-key-0123456789abcdef0123456789"
AUDIT_KEY = "reliability-audit-key-0123456789abcdef0123456789"
REDIS_URL = "redis://127.0.0.1:6379/0"

needs_postgres = pytest.mark.skipif(
    not server_url(), reason="needs PostgreSQL: set TEST_DATABASE_URL"
)


@contextmanager
def fresh_database() -> Iterator[str]:
    """A migrated database of its own on the test server, dropped however the test ends."""
    server = server_url()
    assert server, "needs_postgres should have skipped this test"
    name = f"clinic_test_rel_{secrets.token_hex(4)}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        url = sa.engine.make_url(server).set(database=name).render_as_string(hide_password=False)
        app = create_app(in_process_config(url))
        with app.app_context():
            flask_migrate.upgrade()
            db.session.remove()
            db.engine.dispose()
        yield url
    finally:
        with admin.connect() as conn:
            # FORCE: a server that did not stop cleanly must not keep the database alive.
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def in_process_config(url: str) -> dict[str, Any]:
    """For seeding in process: the servers' audit key, so the one chain verifies as a whole."""
    return {
        **BASE_CONFIG,
        "SQLALCHEMY_DATABASE_URI": url,
        "SECRET_KEY": SECRET_KEY,
        "AUDIT_KEY": AUDIT_KEY,
    }


def server_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "CLINIC_ENV": "development",
        "SECRET_KEY": SECRET_KEY,
        "AUDIT_KEY": AUDIT_KEY,
        "DATABASE_URL": database_url,
        "RATELIMIT_STORAGE_URI": REDIS_URL,
        "LOGIN_RATE_LIMIT": "200 per minute",
        "FLASK_APP": "wsgi",
    }
    env.update(extra)
    return env


@contextmanager
def servers(env: dict[str, str], count: int, logdir: Path, workers: int = 2) -> Iterator[list[str]]:
    """`count` gunicorn servers of wsgi:app on loopback ports; all stopped on the way out."""
    options = SimpleNamespace(workers=workers, threads=4)
    with ExitStack() as stack:
        urls = [
            stack.enter_context(
                gunicorn("wsgi:app", env, options, logdir / f"server{n}.log", "/healthz")
            )
            for n in range(count)
        ]
        yield urls


def flask_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def unique_loopback_address() -> str:
    """A client address of this run alone (all of 127/8 is loopback on Linux).

    The login limit is kept per client address in Redis; a source address nobody else uses keeps
    this run's counters apart from any other's, and lets the test delete exactly its own keys.
    """
    return f"127.{random.randint(2, 254)}.{random.randint(1, 254)}.{random.randint(1, 254)}"


def delete_redis_keys_of(address: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        for key in client.scan_iter(match=f"*{address}*"):
            client.delete(key)
    finally:
        client.close()


@dataclass
class Response:
    status: int
    location: str
    body: str


@dataclass
class Client:
    """A cookie-keeping HTTP client that does not follow redirects (a 302 is the answer)."""

    source_address: str = "127.0.0.1"
    cookies: dict[str, str] = field(default_factory=dict)
    timeout: float = 30

    def request(self, method: str, url: str, fields: dict[str, str] | None = None) -> Response:
        parts = urllib.parse.urlsplit(url)
        conn = http.client.HTTPConnection(
            parts.hostname,
            parts.port,
            timeout=self.timeout,
            source_address=(self.source_address, 0),
        )
        headers = {"User-Agent": USER_AGENT, "Connection": "close"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if fields is not None:
            body = urllib.parse.urlencode(fields)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(
                method, parts.path + (f"?{parts.query}" if parts.query else ""), body, headers
            )
            answer = conn.getresponse()
            text = answer.read().decode(errors="replace")
            for header in answer.headers.get_all("Set-Cookie") or []:
                self._keep(header)
            return Response(answer.status, answer.getheader("Location") or "", text)
        finally:
            conn.close()

    def _keep(self, header: str) -> None:
        for name, morsel in http.cookies.SimpleCookie(header).items():
            if morsel.value and morsel["max-age"] != "0":
                self.cookies[name] = morsel.value
            else:
                self.cookies.pop(name, None)

    def get(self, url: str) -> Response:
        return self.request("GET", url)

    def post(self, url: str, fields: dict[str, str]) -> Response:
        return self.request("POST", url, fields)

    def csrf_token(self, url: str) -> str:
        page = self.get(url)
        match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.body)
        if not match:
            raise AssertionError(f"no CSRF token on {url} ({page.status})")
        return match.group(1)

    def sign_in(self, base: str, username: str, password: str, code: str | None = None) -> Response:
        """The password, then, where the sign-in asks for it, the second factor's code."""
        token = self.csrf_token(base + "/login")
        answer = self.post(
            base + "/login", {"csrf_token": token, "username": username, "password": password}
        )
        if answer.status == 302 and answer.location.startswith("/login/code"):
            assert code is not None, f"{username} is asked for a second factor's code"
            token = self.csrf_token(base + answer.location)
            answer = self.post(base + answer.location, {"csrf_token": token, "code": code})
        return answer


def monitoring_fields(client: Client, chart_url: str) -> dict[str, str]:
    """The chart's monitoring form as the page gives it (CSRF token, time, phase)."""
    page = client.get(chart_url)
    assert page.status == 200, page.status
    form = form_with_field(page.body, "heart_rate")
    assert form is not None, "no monitoring form on the chart"
    return dict(form.fields)


@dataclass
class SeededClinic:
    nurses: list[str]
    clinicians: list[str]
    session_ids: list[int]
    ready_to_sign: list[int]
    # Each clinician's recovery codes: each stands in once for the app's code, so a test that
    # signs in and signs several sessions within seconds needs no clock.
    recovery_codes: dict[str, list[str]]


def seed_clinic(
    url: str, *, nurses: int, clinicians: int, sessions: int, ready_to_sign: int = 0
) -> SeededClinic:
    """Staff, patients and open sessions through the services, as the app itself writes them.

    The first `ready_to_sign` sessions get an administration and every required checklist item,
    so that only the signature is missing.
    """
    from clinic.auth.models import Role
    from clinic.patients.models import Indication, Sex
    from clinic.patients.services import PatientData, register_patient
    from tests.conftest import PASSWORD
    from tests.factories import make_ready_to_sign, open_session_for
    from tests.second_factor_codes import enrol

    def staff(role: Role, n: int) -> Any:
        from clinic.staff.services import StaffDetails, create_user

        user = create_user(
            None,
            f"{role.value}{n:02d}-{secrets.token_hex(2)}",
            StaffDetails(
                full_name=f"Reliability {role.value.title()} {n}",
                credentials="RN" if role == Role.NURSE else "MD",
                role=role,
            ),
            PASSWORD,
            must_change_password=False,
        )
        db.session.commit()
        return user

    app = create_app(in_process_config(url))
    with app.app_context():
        try:
            nurse_users = [staff(Role.NURSE, n) for n in range(nurses)]
            clinician_users = [staff(Role.CLINICIAN, n) for n in range(clinicians)]
            recovery_codes = {user.username: enrol(user) for user in clinician_users}
            opened = []
            for n in range(sessions):
                # Registered, not inserted: `flask audit verify` finds a row without its trail.
                patient = register_patient(
                    nurse_users[0],
                    PatientData(
                        mrn=f"REL-{n:04d}-{secrets.token_hex(2)}",
                        family_name=f"Reliability{n}",
                        given_name="Jane",
                        date_of_birth=date(1980, 5, 17),
                        sex=Sex.FEMALE,
                        allergies="Penicillin",
                        indication=Indication.FIBROMYALGIA,
                    ),
                )
                db.session.commit()
                opened.append(
                    open_session_for(
                        patient, nurse_users[n % nurses], clinician_users[n % clinicians]
                    )
                )
            for infusion_session in opened[:ready_to_sign]:
                make_ready_to_sign(infusion_session, clinician_users[0])
            ids = [infusion_session.id for infusion_session in opened]
            return SeededClinic(
                [u.username for u in nurse_users],
                [u.username for u in clinician_users],
                ids,
                ids[:ready_to_sign],
                recovery_codes,
            )
        finally:
            db.session.remove()
            db.engine.dispose()
