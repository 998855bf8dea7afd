"""Nurses drawing from one lot at once through two app servers: the register never goes below
zero, and every draw acknowledged is in the ledger exactly once.

Issue 17, "Bad input and races": two gunicorn servers on loopback share one PostgreSQL. Each nurse
charts administrations of ketamine from the same lot in her own session until the lot runs out.
Every post acknowledged with a redirect must be one administration and one draw in the ledger;
a post refused because the lot is empty is a 422 page that says so and stores nothing; the
balance is the receipts less the draws; the audit chain verifies.
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from bench.client import form_with_field
from clinic import create_app
from clinic.auth.services import find_user_by_username
from clinic.extensions import db
from clinic.orders.models import OrderKind
from clinic.orders.services import OrderDetails, write_order
from clinic.sessions.models import InfusionSession, Method, Route
from tests.conftest import PASSWORD
from tests.register_factories import receive_lot
from tests.reliability.support import (
    Client,
    delete_redis_keys_of,
    flask_cli,
    fresh_database,
    in_process_config,
    needs_postgres,
    seed_clinic,
    server_env,
    servers,
    unique_loopback_address,
)

pytestmark = needs_postgres

NURSES = 8
RUN_SECONDS = 8.0
LOT_ML = "30"
DRAW_ML = "1.5"
EMPTY_MESSAGE = "below zero"


@dataclass
class Outcome:
    acknowledged: dict[str, int] = field(default_factory=dict)  # note -> session id
    refused: list[tuple[str, int, str]] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _stock_and_orders(
    url: str, session_ids: list[int], nurse: str, witness: str, clinician: str
) -> tuple[int, dict[int, int]]:
    """A lot received (witnessed) and an order in force for each session (its id by the
    session's), in process."""
    app = create_app(in_process_config(url))
    with app.app_context():
        try:
            receiver = find_user_by_username(nurse)
            second = find_user_by_username(witness)
            assert receiver is not None and second is not None
            lot = receive_lot(receiver, second, LOT_ML)
            writer = find_user_by_username(clinician)
            orders = {}
            for session_id in session_ids:
                # Signed through the service: `flask audit verify` finds every order's trail.
                infusion_session = db.session.get(InfusionSession, session_id)
                orders[session_id] = write_order(
                    writer,
                    infusion_session.patient_id,
                    OrderDetails(
                        OrderKind.TREATMENT,
                        "Ketamine hydrochloride",
                        Decimal("35"),
                        "mg",
                        Route.IV,
                        Method.INFUSION,
                    ),
                    PASSWORD,
                    None,
                    course_id=infusion_session.course_id,
                ).entry.id
                db.session.commit()
            return lot.id, orders
        finally:
            db.session.remove()
            db.engine.dispose()


def _nurse(
    index: int,
    username: str,
    urls: list[str],
    session_id: int,
    order_id: int,
    lot_id: int,
    address: str,
    start: threading.Event,
    deadline: list[float],
    outcome: Outcome,
) -> None:
    client = Client(source_address=address)
    base = urls[index % 2]
    try:
        signed_in = client.sign_in(base, username, PASSWORD)
        assert signed_in.status == 302, f"{username}: sign-in answered {signed_in.status}"
        page = client.get(f"{base}/sessions/{session_id}")
        form = form_with_field(page.body, "lot_id")
        assert form is not None, "no administration form with a register lot on the chart"
        fields = dict(form.fields)
    except Exception as error:  # reported by the main thread, which owns the assertions
        with outcome.lock:
            outcome.unexpected.append(f"{username} could not start: {error!r}")
        start.wait()
        return
    start.wait()
    for n in itertools.count():
        if time.monotonic() >= deadline[0]:
            return
        note = f"rel-draw-{index}-{n}-{secrets.token_hex(4)}"
        body = {
            **fields,
            "administration-order_id": str(order_id),
            "administration-drug": "Ketamine hydrochloride",
            "administration-route": "iv",
            "administration-method": "infusion",
            "administration-dose_amount": "35",
            "administration-dose_unit": "mg",
            "administration-lot_id": str(lot_id),
            "administration-drawn": DRAW_ML,
            "administration-given": DRAW_ML,
            "administration-wasted": "",
            "administration-note": note,
            "administration-submission_key": secrets.token_urlsafe(24),
        }
        try:
            url = f"{urls[(index + n) % 2]}/sessions/{session_id}/administrations"
            answer = client.post(url, body)
        except Exception as error:
            with outcome.lock:
                outcome.unexpected.append(f"{note}: {error!r}")
            continue
        path = urllib.parse.urlsplit(answer.location).path
        with outcome.lock:
            if answer.status == 302 and path == f"/sessions/{session_id}":
                outcome.acknowledged[note] = session_id
            elif answer.status == 422:
                excerpt = EMPTY_MESSAGE if EMPTY_MESSAGE in answer.body else _alert(answer.body)
                outcome.refused.append((note, answer.status, excerpt))
            else:
                outcome.unexpected.append(f"{note}: {answer.status} {answer.location}")


def _alert(page: str) -> str:
    """The first message shown next to a field, for the report."""
    marker = 'class="invalid-feedback d-block" role="alert">'
    return page.split(marker, 1)[1].split("</div>", 1)[0] if marker in page else page[:300]


def test_concurrent_draws_through_two_servers_never_go_below_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    address = unique_loopback_address()
    try:
        with fresh_database() as url:
            seeded = seed_clinic(url, nurses=NURSES + 1, clinicians=1, sessions=NURSES)
            lot_id, orders = _stock_and_orders(
                url,
                seeded.session_ids,
                seeded.nurses[0],
                seeded.nurses[NURSES],
                seeded.clinicians[0],
            )
            env = server_env(url)
            with servers(env, 2, tmp_path) as urls:
                outcome = Outcome()
                start = threading.Event()
                deadline = [0.0]
                threads = [
                    threading.Thread(
                        target=_nurse,
                        args=(
                            i,
                            seeded.nurses[i],
                            urls,
                            seeded.session_ids[i],
                            orders[seeded.session_ids[i]],
                            lot_id,
                            address,
                            start,
                            deadline,
                            outcome,
                        ),
                    )
                    for i in range(NURSES)
                ]
                for thread in threads:
                    thread.start()
                time.sleep(3)  # sign-ins and first pages, outside the measured window
                deadline[0] = time.monotonic() + RUN_SECONDS
                start.set()
                for thread in threads:
                    thread.join(timeout=RUN_SECONDS + 60)
                assert not any(t.is_alive() for t in threads), "a client thread did not finish"
                logs = {p.name: p.read_text(errors="replace") for p in tmp_path.glob("*.log")}
            verify = flask_cli(env, "audit", "verify")
            found, draws, balance, receipts = _read_back(url, lot_id)
    finally:
        delete_redis_keys_of(address)

    acknowledged, refused = outcome.acknowledged, outcome.refused
    with capsys.disabled():
        print(
            f"\nconcurrent draws: {NURSES} nurses, 2 servers, {RUN_SECONDS:.0f} s, a lot of "
            f"{LOT_ML} mL drawn {DRAW_ML} mL at a time; acknowledged {len(acknowledged)}, "
            f"refused {len(refused)}, unexpected {len(outcome.unexpected)}; balance {balance}"
        )
    assert outcome.unexpected == [], outcome.unexpected[:10]
    assert refused, "the lot never ran out: the run drew too little"
    # Every acknowledged draw exactly once, as an administration and as a draw of the lot.
    assert {note: found.get(note, 0) for note in acknowledged if found.get(note) != 1} == {}
    assert set(found) == set(acknowledged)
    assert draws == len(acknowledged)
    assert {excerpt for _, _, excerpt in refused} == {EMPTY_MESSAGE}
    assert balance == receipts - draws * Decimal(DRAW_ML)
    assert balance >= 0
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert not any("Traceback" in text for text in logs.values()), logs


def _read_back(url: str, lot_id: int) -> tuple[dict[str, int], int, Decimal, Decimal]:
    """How often each note is stored with a draw of the lot; the draws, balance and receipts."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            found = dict(
                conn.execute(
                    sa.text(
                        "SELECT a.note, count(*) FROM administration a "
                        "JOIN register_entry r ON r.administration_id = a.id AND r.kind = 'draw' "
                        "WHERE a.note LIKE 'rel-draw-%' GROUP BY a.note"
                    )
                ).all()
            )
            draws = conn.execute(
                sa.text(
                    "SELECT count(*) FROM register_entry WHERE lot_id = :lot AND kind = 'draw'"
                ),
                {"lot": lot_id},
            ).scalar_one()
            balance = conn.execute(
                sa.text("SELECT sum(quantity) FROM register_entry WHERE lot_id = :lot"),
                {"lot": lot_id},
            ).scalar_one()
            receipts = conn.execute(
                sa.text(
                    "SELECT sum(quantity) FROM register_entry "
                    "WHERE lot_id = :lot AND kind = 'receipt'"
                ),
                {"lot": lot_id},
            ).scalar_one()
        return found, draws, Decimal(balance), Decimal(receipts)
    finally:
        engine.dispose()
