"""SQL statements per request, counted in process with the test client on the seeded database.

Counted at `before_cursor_execute`, i.e. every statement the app sends. Transaction control is left
out (SQLite's `BEGIN IMMEDIATE`, issued by clinic/sqlite_support.py, has no twin on PostgreSQL)
so that the counts are the same on both databases.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from bench.client import USER_AGENT, form_with_field


@dataclass
class StatementLog:
    statements: list[str] = field(default_factory=list)
    elapsed_ms: float = 0.0  # a request in process, alone (median): the page's own cost

    @property
    def count(self) -> int:
        return len(self.statements)

    def repeated(self, at_least: int = 3) -> list[tuple[str, int]]:
        """Statements sent several times in one request: the trace of a lazy load in a loop."""
        counts = Counter(_shorten(" ".join(s.split())) for s in self.statements)
        return [(text, n) for text, n in counts.most_common() if n >= at_least]


def _shorten(statement: str) -> str:
    # The head names the table, the tail holds the WHERE clause that tells the loop apart.
    return statement if len(statement) <= 220 else f"{statement[:70]} … {statement[-140:]}"


@contextmanager
def counting(engine: sa.Engine) -> Iterator[StatementLog]:
    log = StatementLog()

    def before_cursor_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            log.statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", before_cursor_execute)
    try:
        yield log
    finally:
        sa.event.remove(engine, "before_cursor_execute", before_cursor_execute)


def count_request(
    engine: sa.Engine, send: Callable[[], Any], expected_status: int, timed: int = 5
) -> StatementLog:
    send()  # once to warm caches (compiled statements, templates), as a running server has
    with counting(engine) as log:
        response = send()
    if response.status_code != expected_status:
        raise RuntimeError(f"expected {expected_status}, got {response.status_code}")
    # The median of a few, since one request on a shared machine is noise.
    timings = []
    for _ in range(timed):
        started = time.perf_counter()
        send()
        timings.append((time.perf_counter() - started) * 1000)
    log.elapsed_ms = statistics.median(timings)
    return log


def signed_in_client(app: Flask, username: str, password: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = USER_AGENT
    page = client.get("/login").get_data(as_text=True)
    form = form_with_field(page, "csrf_token")
    if form is None:
        raise RuntimeError("no CSRF token on the sign-in page")
    response = client.post(
        "/login", data={**form.fields, "username": username, "password": password}
    )
    if response.status_code != 302 or "/login" in response.headers.get("Location", "/login"):
        raise RuntimeError(f"signing in as {username} failed in process")
    return client
