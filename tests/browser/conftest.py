"""Browser journeys: the real app under gunicorn on a loopback port, driven by Debian's Chromium.

Without Chromium the journeys skip with the reason; with CI set they fail instead, so CI never
passes by skipping them.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ADMIN_USERNAME = "admin"
ADMIN_FIRST_PASSWORD = "first-temporary-password-1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _admin_journey_first(items)
    if Path(CHROMIUM).exists():
        return
    reason = f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)"
    if os.environ.get("CI"):
        raise pytest.UsageError(f"CI must run the browser journeys: {reason}")
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.skip(reason=reason))


def _admin_journey_first(items: list[pytest.Item]) -> None:
    """Journey 1 signs in with the admin's first password; the other journeys, sharing the live
    server, sign in as an admin who may have changed it (tests/browser/journeys.py). So journey 1
    runs first among the browser tests, whatever order the modules were named in."""
    positions = [n for n, item in enumerate(items) if "tests/browser" in str(item.fspath)]
    browser_items = [items[n] for n in positions]
    browser_items.sort(key=lambda item: "test_journey_admin" not in item.nodeid)
    for n, item in zip(positions, browser_items, strict=True):
        items[n] = item


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    env: dict[str, str]
    database_url: str

    def flask(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN / "flask"), "--app", "wsgi", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = os.environ.get("TEST_DATABASE_URL")
    pg_name = None
    if server:
        pg_name = f"clinic_test_browser_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{pg_name}"')
        database_url = sa.engine.make_url(server).set(database=pg_name).render_as_string(False)
    else:
        database_url = f"sqlite:///{tmp_path_factory.mktemp('live') / 'clinic.sqlite3'}"
    port = _free_port()
    env = {
        **os.environ,
        "CLINIC_ENV": "development",
        "DATABASE_URL": database_url,
        "SECRET_KEY": uuid.uuid4().hex * 2,
        "AUDIT_KEY": uuid.uuid4().hex * 2,
        "CLINIC_TIMEZONE": "America/New_York",
    }
    live = LiveServer(f"http://127.0.0.1:{port}", env, database_url)
    process = None
    try:
        live.flask("db", "upgrade")
        # The one direct set-up step allowed: the first admin, as `make run` would create it.
        live.flask(
            "create-admin", ADMIN_USERNAME, "--password", ADMIN_FIRST_PASSWORD, "--must-change"
        )
        process = _gunicorn(env, port, "wsgi:app")
        _wait_until_up(live.url + "/healthz", process)
        yield live
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=20)
        if pg_name and server:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


def _gunicorn(env: dict[str, str], port: int, app: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "--access-logfile",
            "-",
            app,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


@contextmanager
def served_with(live: LiveServer, settings: Mapping[str, Any]) -> Iterator[str]:
    """The same app, database and keys as the live server, with some settings changed (a short
    IDLE_TIMEOUT_MINUTES, say), on a port of its own: yields its base URL. The browser's cookies
    are per host, not per port, so a session signed in on one server is valid on the other."""
    port = _free_port()
    process = _gunicorn(live.env, port, f"clinic:create_app({dict(settings)!r})")
    try:
        _wait_until_up(f"http://127.0.0.1:{port}/healthz", process)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=20)


def _wait_until_up(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"gunicorn exited: {process.stderr.read() if process.stderr else ''}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the app did not come up within 30 s")


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    folder = os.environ.get("SCREENSHOT_DIR") or tempfile.mkdtemp(prefix="clinic-screens-")
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class PageProblems:
    """What went wrong on the pages of one journey, collected from the browser's events."""

    host: str
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)

    def watch(self, page: Any) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.console_errors.append(str(error)))
        page.on("requestfailed", self._request_failed)
        page.on("request", self._request)
        page.on("response", self._response)

    def _console(self, message: Any) -> None:
        if message.type == "error" and not self._provoked(message.text):
            self.console_errors.append(message.text)

    @staticmethod
    def _provoked(text: str) -> bool:
        # Chromium logs every 4xx page as a console error; a refused form (422), a refused
        # signature (403) or a post to a signed chart (409) is what the journey asked for.
        # 404 and 5xx are still caught, by _response.
        match = re.match(
            r"Failed to load resource: the server responded with a status of (\d+)", text
        )
        return bool(match) and 400 <= int(match.group(1)) < 500 and match.group(1) != "404"

    def _request_failed(self, request: Any) -> None:
        # A load the browser cancels because the page navigated on (a quick click on a link or
        # a submit before the last script arrived) is not a failure of the app.
        if request.failure != "net::ERR_ABORTED":
            self.failed_requests.append(f"{request.url} ({request.failure})")

    def _request(self, request: Any) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("http", "https") and parts.netloc != self.host:
            self.foreign_requests.append(request.url)

    def _response(self, response: Any) -> None:
        # 4xx pages that a journey provokes on purpose (a refused form) come back as 422/403.
        if response.status >= 500 or response.status == 404:
            self.failed_requests.append(f"{response.status} {response.url}")

    def assert_clean(self) -> None:
        assert not self.console_errors, self.console_errors
        assert not self.failed_requests, self.failed_requests
        assert not self.foreign_requests, self.foreign_requests


@pytest.fixture
def problems(page: Any, live_server: LiveServer) -> Iterator[PageProblems]:
    watcher = PageProblems(urlsplit(live_server.url).netloc)
    watcher.watch(page)
    yield watcher
    watcher.assert_clean()
