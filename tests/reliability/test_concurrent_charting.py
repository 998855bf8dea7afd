"""Many nurses charting at once through two app servers while a clinician signs: nothing is lost.

Issue 6, "Concurrent charting" and "Scale out": two gunicorn servers on loopback share one
PostgreSQL and a Redis rate-limit store. Every monitoring post acknowledged with a redirect must be
in the database exactly once; a post refused because the session was signed gets a 409 page that
says so and stores nothing; no entry lands after its session's signature; the audit chain verifies.
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import PASSWORD
from tests.reliability.support import (
    Client,
    delete_redis_keys_of,
    flask_cli,
    fresh_database,
    monitoring_fields,
    needs_postgres,
    seed_clinic,
    server_env,
    servers,
    unique_loopback_address,
)

pytestmark = needs_postgres

NURSES = 16
RUN_SECONDS = 8.0
SESSIONS = 6
SIGN_PLAN = ((2.0, 1), (4.0, 0), (6.0, 3))  # (seconds into the run, index of the session)
LOCKED_MESSAGE = "signed and locked"


@dataclass
class Outcome:
    acknowledged: dict[str, int] = field(default_factory=dict)  # note -> session id
    refused: list[tuple[str, int, str]] = field(default_factory=list)  # note, status, excerpt
    unexpected: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _nurse(
    index: int,
    username: str,
    urls: list[str],
    session_ids: list[int],
    address: str,
    start: threading.Event,
    deadline: list[float],
    outcome: Outcome,
) -> None:
    client = Client(source_address=address)
    try:
        signed_in = client.sign_in(urls[index % 2], username, PASSWORD)
        assert signed_in.status == 302, f"{username}: sign-in answered {signed_in.status}"
        fields = monitoring_fields(client, f"{urls[0]}/sessions/{session_ids[0]}")
    except Exception as error:  # reported by the main thread, which owns the assertions
        with outcome.lock:
            outcome.unexpected.append(f"{username} could not start: {error!r}")
        start.wait()
        return
    start.wait()
    own = session_ids[index % len(session_ids)]
    for n in itertools.count():
        if time.monotonic() >= deadline[0]:
            return
        # Alternately the one session everybody charts on and a session of this nurse's own,
        # and alternately through each server.
        session_id = session_ids[0] if n % 2 == 0 else own
        base = urls[(index + n) % 2]
        note = f"rel-{index}-{n}-{secrets.token_hex(4)}"
        body = {
            **fields,
            "heart_rate": str(60 + (index + n) % 40),
            "note": note,
            "submission_key": secrets.token_urlsafe(24),
        }
        try:
            answer = client.post(f"{base}/sessions/{session_id}/monitoring", body)
        except Exception as error:
            with outcome.lock:
                outcome.unexpected.append(f"{note}: {error!r}")
            continue
        path = urllib.parse.urlsplit(answer.location).path
        with outcome.lock:
            if answer.status == 302 and path == f"/sessions/{session_id}":
                outcome.acknowledged[note] = session_id
            elif 400 <= answer.status < 500:
                excerpt = LOCKED_MESSAGE if LOCKED_MESSAGE in answer.body else answer.body[:300]
                outcome.refused.append((note, answer.status, excerpt))
            else:
                outcome.unexpected.append(f"{note}: {answer.status} {answer.location}")


def _clinician(
    username: str,
    codes: list[str],
    urls: list[str],
    session_ids: list[int],
    address: str,
    start: threading.Event,
    started: list[float],
    signed: list[tuple[int, int | str]],
) -> None:
    client = Client(source_address=address)
    try:
        answer = client.sign_in(urls[1], username, PASSWORD, codes[0])
        assert answer.status == 302, f"sign-in answered {answer.status}"
        tokens = {
            index: client.csrf_token(f"{urls[index % 2]}/sessions/{session_ids[index]}")
            for _, index in SIGN_PLAN
        }
    except Exception as error:  # reported by the main thread through `signed`
        signed.append((-1, repr(error)))
        start.wait()
        return
    start.wait()
    for (at, index), code in zip(SIGN_PLAN, codes[1:], strict=False):
        time.sleep(max(0.0, started[0] + at - time.monotonic()))
        answer = client.post(
            f"{urls[index % 2]}/sessions/{session_ids[index]}/sign",
            {"csrf_token": tokens[index], "password": PASSWORD, "code": code},
        )
        signed.append((session_ids[index], answer.status))


def test_concurrent_charting_through_two_servers_loses_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    address = unique_loopback_address()
    try:
        with fresh_database() as url:
            seeded = seed_clinic(
                url, nurses=NURSES, clinicians=2, sessions=SESSIONS, ready_to_sign=SESSIONS
            )
            env = server_env(url)
            with servers(env, 2, tmp_path) as urls:
                outcome = Outcome()
                start = threading.Event()
                started, deadline = [0.0], [0.0]
                signed: list[tuple[int, int | str]] = []
                threads = [
                    threading.Thread(
                        target=_nurse,
                        args=(i, name, urls, seeded.session_ids, address, start, deadline, outcome),
                    )
                    for i, name in enumerate(seeded.nurses)
                ]
                threads.append(
                    threading.Thread(
                        target=_clinician,
                        args=(
                            seeded.clinicians[0],
                            seeded.recovery_codes[seeded.clinicians[0]],
                            urls,
                            seeded.session_ids,
                            address,
                            start,
                            started,
                            signed,
                        ),
                    )
                )
                for thread in threads:
                    thread.start()
                time.sleep(3)  # sign-ins and first pages, outside the measured window
                started[0] = time.monotonic()
                deadline[0] = started[0] + RUN_SECONDS
                start.set()
                for thread in threads:
                    thread.join(timeout=RUN_SECONDS + 60)
                assert not any(t.is_alive() for t in threads), "a client thread did not finish"
                logs = {p.name: p.read_text(errors="replace") for p in tmp_path.glob("*.log")}
            verify = flask_cli(env, "audit", "verify")
            found, late = _read_back(url)
    finally:
        delete_redis_keys_of(address)

    acknowledged, refused = outcome.acknowledged, outcome.refused
    found_acknowledged = sum(1 for note in acknowledged if found.get(note) == 1)
    with capsys.disabled():
        print(
            f"\nconcurrent charting: {NURSES} nurses, 2 servers, {RUN_SECONDS:.0f} s; "
            f"posts acknowledged {len(acknowledged)}, found {found_acknowledged}, "
            f"refused {len(refused)} ({dict(Counter(s for _, s, _ in refused))}), "
            f"unexpected {len(outcome.unexpected)}; signatures {signed}"
        )

    assert outcome.unexpected == [], outcome.unexpected[:10]
    assert [status for _, status in signed] == [302] * len(SIGN_PLAN), signed
    assert len(acknowledged) >= NURSES, "the run charted almost nothing"
    assert refused, "no post was refused: the signatures did not land mid-run"
    # Every acknowledged entry exactly once; refused posts stored nothing.
    assert {note: found.get(note, 0) for note in acknowledged if found.get(note) != 1} == {}
    assert [note for note, _, _ in refused if note in found] == []
    assert set(found) <= set(acknowledged), "an entry was stored that no one was told about"
    # A refused post is a clear 409 page saying the session is signed, never a 5xx.
    assert {(status, excerpt) for _, status, excerpt in refused} == {(409, LOCKED_MESSAGE)}
    assert late == [], "monitoring entries recorded after their session's signature"
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert not any("Traceback" in text for text in logs.values()), logs


def _read_back(url: str) -> tuple[dict[str, int], list[int]]:
    """How often each test note is stored, and entries recorded after their signature."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            counts = dict(
                conn.execute(
                    sa.text(
                        "SELECT note, count(*) FROM monitoring_entry "
                        "WHERE note LIKE 'rel-%' GROUP BY note"
                    )
                ).all()
            )
            late = list(
                conn.execute(
                    sa.text(
                        "SELECT m.id FROM monitoring_entry m JOIN signature s "
                        "ON s.session_id = m.session_id WHERE m.recorded_at > s.signed_at"
                    )
                ).scalars()
            )
        return counts, late
    finally:
        engine.dispose()


def test_login_limit_is_shared_between_two_servers(tmp_path: Path) -> None:
    """Failed sign-ins split across both servers: the sixth in total is refused with 429."""
    address = unique_loopback_address()
    try:
        with fresh_database() as url:
            env = server_env(url, LOGIN_RATE_LIMIT="5 per minute")
            with servers(env, 2, tmp_path, workers=1) as urls:
                client = Client(source_address=address)
                statuses = []
                for attempt in range(7):
                    base = urls[attempt % 2]
                    token = client.csrf_token(base + "/login")
                    answer = client.post(
                        base + "/login",
                        {
                            "csrf_token": token,
                            # Different unknown users: the account lockout plays no part.
                            "username": f"nobody-{attempt}",
                            "password": "wrong-password-123456",
                        },
                    )
                    statuses.append(answer.status)
                    if answer.status == 429:
                        assert "Too many attempts" in answer.body
    finally:
        delete_redis_keys_of(address)
    assert statuses == [200] * 5 + [429, 429], statuses
