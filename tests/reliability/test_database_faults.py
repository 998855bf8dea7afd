"""The database's connections are killed under load: 503 while it is unreachable, never a 500.

Issue 6, "Faults": nurses post monitoring entries and read the chart through gunicorn while the
test terminates every backend of the app's database several times. No answer may be a 500 or show
a stack trace, the app must recover by itself (pool pre-ping), and no post that was acknowledged
with a redirect may be missing.
"""

from __future__ import annotations

import secrets
import threading
import time
import urllib.parse
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import InterfaceError, OperationalError

from clinic.auth.access import public
from tests.conftest import PASSWORD, server_url
from tests.reliability.support import (
    Client,
    delete_redis_keys_of,
    fresh_database,
    monitoring_fields,
    needs_postgres,
    seed_clinic,
    server_env,
    servers,
    unique_loopback_address,
)

NURSES = 4
RUN_SECONDS = 8.0
KILLS = 5
TRACE_MARKERS = ("Traceback", "sqlalchemy.exc", "psycopg.", 'File "/')


def _terminate_backends(database: str) -> int:
    admin = sa.create_engine(
        server_url() or "", isolation_level="AUTOCOMMIT", poolclass=sa.NullPool
    )
    try:
        with admin.connect() as conn:
            return len(
                conn.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": database},
                ).all()
            )
    finally:
        admin.dispose()


@needs_postgres
def test_killed_database_connections_give_503_then_recover_and_lose_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    address = unique_loopback_address()
    statuses: Counter[int] = Counter()
    bad: list[str] = []
    acknowledged: dict[str, int] = {}
    lock = threading.Lock()
    killed: list[int] = []
    try:
        with fresh_database() as url:
            database = sa.engine.make_url(url).database or ""
            seeded = seed_clinic(url, nurses=NURSES, clinicians=1, sessions=2)
            with servers(server_env(url), 1, tmp_path) as (base,):
                clients = []
                for username in seeded.nurses:
                    client = Client(source_address=address, timeout=20)
                    assert client.sign_in(base, username, PASSWORD).status == 302
                    clients.append(client)
                fields = [
                    monitoring_fields(c, f"{base}/sessions/{seeded.session_ids[0]}")
                    for c in clients
                ]
                deadline = time.monotonic() + RUN_SECONDS

                def nurse(index: int) -> None:
                    client, n = clients[index], 0
                    while time.monotonic() < deadline:
                        n += 1
                        session_id = seeded.session_ids[n % 2]
                        chart = f"{base}/sessions/{session_id}"
                        note = f"fault-{index}-{n}-{secrets.token_hex(3)}"
                        try:
                            if n % 3 == 0:
                                answer = client.get(chart)
                            else:
                                answer = client.post(
                                    chart + "/monitoring",
                                    {
                                        **fields[index],
                                        "spo2": "97",
                                        "note": note,
                                        "submission_key": secrets.token_urlsafe(24),
                                    },
                                )
                        except Exception as error:
                            with lock:
                                bad.append(f"{note}: {error!r}")
                            continue
                        with lock:
                            statuses[answer.status] += 1
                            if answer.status >= 500 and answer.status != 503:
                                bad.append(f"{note}: {answer.status}")
                            if (
                                answer.status == 503
                                and "Temporarily unavailable" not in answer.body
                            ):
                                bad.append(f"{note}: 503 without the friendly page")
                            if any(marker in answer.body for marker in TRACE_MARKERS):
                                bad.append(f"{note}: {answer.status} shows a stack trace")
                            location = urllib.parse.urlsplit(answer.location).path
                            if answer.status == 302 and location == f"/sessions/{session_id}":
                                acknowledged[note] = session_id

                threads = [threading.Thread(target=nurse, args=(i,)) for i in range(NURSES)]
                for thread in threads:
                    thread.start()
                for _ in range(KILLS):
                    time.sleep(RUN_SECONDS / (KILLS + 1))
                    killed.append(_terminate_backends(database))
                for thread in threads:
                    thread.join(timeout=RUN_SECONDS + 60)
                assert not any(t.is_alive() for t in threads)

                # Recovery without a restart: the next requests are served normally.
                time.sleep(0.5)
                recovered = [clients[0].get(f"{base}/sessions/{seeded.session_ids[0]}").status]
                recovered.append(
                    clients[0]
                    .post(
                        f"{base}/sessions/{seeded.session_ids[0]}/monitoring",
                        {
                            **fields[0],
                            "spo2": "98",
                            "note": "fault-after",
                            "submission_key": secrets.token_urlsafe(24),
                        },
                    )
                    .status
                )
                log = (tmp_path / "server0.log").read_text(errors="replace")
            stored = _stored_notes(url)
    finally:
        delete_redis_keys_of(address)

    missing = [note for note in acknowledged if note not in stored]
    with capsys.disabled():
        print(
            f"\ndatabase faults: {KILLS} kills (backends terminated: {killed}); "
            f"answers {dict(sorted(statuses.items()))}; posts acknowledged {len(acknowledged)}, "
            f"missing {len(missing)}; after recovery {recovered}"
        )
    assert bad == [], bad[:10]
    assert sum(killed) > 0, "no connection was killed: the fault was not injected"
    assert recovered == [200, 302]
    assert missing == []
    assert "fault-after" in stored
    assert "Traceback" not in log, log[-3000:]


def _stored_notes(url: str) -> set[str]:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            return set(
                conn.execute(
                    sa.text("SELECT note FROM monitoring_entry WHERE note LIKE 'fault-%'")
                ).scalars()
            )
    finally:
        engine.dispose()


@pytest.mark.parametrize("error_class", [OperationalError, InterfaceError])
def test_lost_connection_is_a_friendly_503_on_any_database(app, client, error_class) -> None:
    """Whichever way the driver reports a lost connection, the user sees the 503 page."""

    @app.route("/lost-connection")
    @public
    def lost_connection() -> str:
        raise error_class("SELECT 1", {}, Exception("server closed the connection unexpectedly"))

    answer = client.get("/lost-connection")
    assert answer.status_code == 503
    assert "Temporarily unavailable" in answer.get_data(as_text=True)
    # The session was rolled back: the next request reaches the database normally.
    assert client.get("/healthz").status_code == 200
