"""The controlled-substance register: lots received with a witness, a ledger only appended to,
draws from the chart in the administration's transaction, counts, voids and reports. On SQLite
and, with TEST_DATABASE_URL, on PostgreSQL (the concurrent draws there only)."""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from clinic.auth.models import Role, User
from clinic.clinic_time import local_now
from clinic.database import utcnow
from clinic.extensions import db as _db
from clinic.register import services as register
from clinic.register.models import EntryKind, LedgerEntry, LotForm, StockLot
from clinic.sessions.models import Administration
from tests.conftest import PASSWORD, login, server_url
from tests.factories import make_patient, open_session_for
from tests.helpers import audit_actions, count_queries
from tests.test_administrations import post_administration

TODAY = date.today()


def lot_data(witness: User | None, **overrides: Any) -> dict[str, str]:
    data = {
        "drug": "Ketamine",
        "strength": "50 mg/mL",
        "form": "vial",
        "container_ml": "10",
        "ndc": "0409-2053-10",
        "lot_number": "KT-2026-001",
        "expires_on": (local_now().date() + timedelta(days=365)).isoformat(),
        "supplier": "Wholesale Pharma",
        "invoice": "INV-1001",
        "received_on": local_now().date().isoformat(),
        "quantity": "100",
        "witness_id": str(witness.id) if witness else "",
        "witness_password": PASSWORD,
    }
    data.update(overrides)
    return data


def receive(client: FlaskClient, witness: User | None, **overrides: Any) -> Any:
    return client.post("/register/receive", data=lot_data(witness, **overrides))


def post_register(client: FlaskClient, url: str, data: dict[str, str]) -> Any:
    """A register page's form posted: its fields carry the form's prefix (a page holds several
    forms, each with ids of its own)."""
    path = url.rstrip("/").split("/")
    prefix = {
        "movements": "movement",
        "corrections": "correction",
        "counts": "count",
        "resolve": f"resolve-{path[-2]}",
        "void": f"void-{path[-2]}",
    }[path[-1]]
    return client.post(url, data={f"{prefix}-{name}": value for name, value in data.items()})


def lots() -> list[StockLot]:
    return list(_db.session.scalars(sa.select(StockLot).order_by(StockLot.id)))


def entries(lot_id: int | None = None) -> list[LedgerEntry]:
    query = sa.select(LedgerEntry).order_by(LedgerEntry.id)
    if lot_id is not None:
        query = query.where(LedgerEntry.lot_id == lot_id)
    _db.session.expire_all()
    return list(_db.session.scalars(query))


def make_lot(nurse: User, witness: User, quantity: str = "100", **overrides: Any) -> StockLot:
    """A lot received through the service."""
    details = register.LotDetails(
        drug=overrides.get("drug", "Ketamine"),
        strength="50 mg/mL",
        form=overrides.get("form", LotForm.VIAL),
        container_ml=overrides.get("container_ml", Decimal("10")),
        ndc="0409-2053-10",
        lot_number=overrides.get("lot_number", "KT-1"),
        expires_on=overrides.get("expires_on", local_now().date() + timedelta(days=300)),
        supplier="Wholesale Pharma",
        invoice=overrides.get("invoice", "INV-1"),
        received_on=overrides.get("received_on", local_now().date()),
        quantity=Decimal(quantity),
    )
    saved = register.receive_lot(nurse, details, register.Witness(witness.id, PASSWORD), None)
    _db.session.commit()
    return saved.entry


@pytest.fixture
def staff(login_as: Callable[..., User], make_user: Callable[..., User]) -> dict[str, User]:
    """A nurse signed in, a second nurse to witness, a clinician."""
    return {
        "nurse": login_as(Role.NURSE, full_name="Nora Nurse"),
        "witness": make_user(Role.NURSE, full_name="Wanda Witness"),
        "clinician": make_user(Role.CLINICIAN, full_name="Dr Count"),
    }


# --- receiving ----------------------------------------------------------------------------------


def test_receipt_is_witnessed_and_opens_the_ledger(client, staff) -> None:
    response = receive(client, staff["witness"])
    assert response.status_code == 302, response.get_data(as_text=True)
    (lot,) = lots()
    assert (lot.lot_number, lot.invoice, lot.quantity_received) == (
        "KT-2026-001",
        "INV-1001",
        Decimal("100"),
    )
    assert lot.witness_id == staff["witness"].id and lot.received_by_id == staff["nurse"].id
    (receipt,) = entries(lot.id)
    assert receipt.kind == EntryKind.RECEIPT and receipt.quantity == Decimal("100")
    assert receipt.witness_id == staff["witness"].id
    (event,) = audit_actions("register_entry_recorded")
    assert f'"witness_id":[null,{staff["witness"].id}]' in event.changes
    assert register.balance(lot.id) == Decimal("100")


def test_receipt_needs_a_different_witness_with_password(client, staff, make_user) -> None:
    refused = {
        "none": receive(client, None),
        "self": receive(client, staff["nurse"]),
        "wrong password": receive(client, staff["witness"], witness_password="not-theirs"),
        "no password": receive(client, staff["witness"], witness_password=""),
    }
    inactive = make_user(Role.NURSE)
    inactive.active = False
    admin = make_user(Role.ADMIN)
    _db.session.commit()
    refused["inactive"] = receive(client, inactive)
    refused["admin"] = receive(client, admin)
    for why, response in refused.items():
        assert response.status_code == 422, why
    assert lots() == []
    page = refused["self"].get_data(as_text=True)
    assert "The witness is someone other than you." in page
    assert 'value="KT-2026-001"' in page  # what was typed is kept
    assert "witness&#39;s password is not correct" in refused["wrong password"].get_data(
        as_text=True
    )
    # The witness's wrong password is counted against the witness, as their own slip.
    assert audit_actions("reauthentication_failed")[0].actor_id == staff["witness"].id


def test_duplicate_receipt_same_lot_and_invoice_is_refused(client, staff) -> None:
    assert receive(client, staff["witness"]).status_code == 302
    again = receive(client, staff["witness"], invoice="inv-1001", lot_number="kt-2026-001")
    assert again.status_code == 422
    assert "already received" in again.get_data(as_text=True)
    # The same lot on another invoice is another delivery.
    assert receive(client, staff["witness"], invoice="INV-1002").status_code == 302
    assert len(lots()) == 2


@pytest.mark.parametrize(
    ("field", "typed", "message"),
    [
        ("quantity", "-5", "Enter a number"),
        ("quantity", "0", "more than zero"),
        ("quantity", "10.125", "At most 2 decimal places"),
        ("quantity", "99999", "not plausible"),
        ("quantity", "1e3", "Enter a number"),
        ("container_ml", "", "Enter the quantity"),
        ("ndc", "12345", "Enter the NDC"),
        ("expires_on", "2020-01-01", "expired when it was received"),
        ("received_on", "2999-01-01", "in the future"),
        ("lot_number", "", "Enter the lot number"),
    ],
)
def test_receipt_quantities_and_fields_are_refused_field_by_field(
    client, staff, field, typed, message
) -> None:
    response = receive(client, staff["witness"], **{field: typed})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page
    assert f'id="{field}-error"' in page
    assert lots() == []


def test_a_nasal_device_is_counted_in_whole_devices(client, staff) -> None:
    response = receive(
        client,
        staff["witness"],
        drug="Esketamine",
        form="nasal_device",
        container_ml="",
        strength="28 mg per device",
        quantity="2.5",
    )
    assert response.status_code == 422
    assert "Whole units only" in response.get_data(as_text=True)
    ok = receive(
        client,
        staff["witness"],
        drug="Esketamine",
        form="nasal_device",
        container_ml="",
        strength="28 mg per device",
        quantity="24",
    )
    assert ok.status_code == 302
    assert lots()[0].unit == "device"


def test_a_receipt_posted_twice_is_stored_once(client, staff) -> None:
    page = client.get("/register/receive").get_data(as_text=True)
    key = page.split('name="submission_key" type="hidden" value="')[1].split('"')[0]
    data = lot_data(staff["witness"], submission_key=key)
    assert client.post("/register/receive", data=data).status_code == 302
    assert client.post("/register/receive", data=data).status_code == 302
    assert len(lots()) == 1 and len(entries()) == 1


# --- the ledger ---------------------------------------------------------------------------------


def test_ledger_is_never_edited_nor_deleted(app, staff) -> None:
    lot = make_lot(staff["nurse"], staff["witness"])
    receipt = entries(lot.id)[0]
    for statement in (
        sa.update(LedgerEntry).where(LedgerEntry.id == receipt.id).values(quantity=1000),
        sa.delete(LedgerEntry).where(LedgerEntry.id == receipt.id),
        sa.update(StockLot).where(StockLot.id == lot.id).values(lot_number="other"),
        sa.delete(StockLot).where(StockLot.id == lot.id),
    ):
        with pytest.raises(sa.exc.DatabaseError), _db.engine.begin() as conn:
            conn.execute(statement)
    assert register.balance(lot.id) == Decimal("100")


def test_void_is_a_reversing_entry_with_a_reason(client, staff) -> None:
    lot = make_lot(staff["nurse"], staff["witness"])
    returned = register.record_movement(
        staff["nurse"], lot.id, EntryKind.RETURN, Decimal("10"), "", None, None
    ).entry
    _db.session.commit()
    assert register.balance(lot.id) == Decimal("90")
    no_reason = post_register(client, f"/register/entries/{returned.id}/void", data={"reason": ""})
    assert no_reason.status_code == 422
    response = post_register(
        client,
        f"/register/entries/{returned.id}/void",
        data={"reason": "Recorded on the wrong lot"},
    )
    assert response.status_code == 302
    void = entries(lot.id)[-1]
    assert (void.kind, void.quantity, void.voids_id) == (EntryKind.VOID, Decimal("10"), returned.id)
    assert register.balance(lot.id) == Decimal("100")
    # The original stays as it was; a second void of it is refused.
    assert entries(lot.id)[1].quantity == Decimal("-10")
    again = post_register(client, f"/register/entries/{returned.id}/void", data={"reason": "again"})
    assert again.status_code == 422 and "already voided" in again.get_data(as_text=True)


def test_voiding_a_receipt_never_takes_the_balance_below_zero(staff) -> None:
    lot = make_lot(staff["nurse"], staff["witness"], quantity="10")
    register.record_movement(staff["nurse"], lot.id, EntryKind.RETURN, Decimal("4"), "", None, None)
    _db.session.commit()
    with pytest.raises(register.RegisterError, match="below zero"):
        register.void_entry(staff["nurse"], entries(lot.id)[0].id, "entered twice")


def test_waste_needs_a_different_witness_with_password(client, staff) -> None:
    lot = make_lot(staff["nurse"], staff["witness"])
    data = {
        "kind": "waste",
        "quantity": "2",
        "reason": "Vial dropped",
        "witness_id": str(staff["nurse"].id),
        "witness_password": PASSWORD,
    }
    url = f"/register/lots/{lot.id}/movements"
    self_witnessed = post_register(client, url, data=data)
    assert self_witnessed.status_code == 422
    assert "someone other than you" in self_witnessed.get_data(as_text=True)
    wrong = post_register(
        client, url, data={**data, "witness_id": str(staff["witness"].id), "witness_password": "x"}
    )
    assert wrong.status_code == 422
    assert len(entries(lot.id)) == 1
    ok = post_register(client, url, data={**data, "witness_id": str(staff["witness"].id)})
    assert ok.status_code == 302
    waste = entries(lot.id)[-1]
    assert (waste.kind, waste.quantity, waste.witness_id, waste.reason) == (
        EntryKind.WASTE,
        Decimal("-2"),
        staff["witness"].id,
        "Vial dropped",
    )
    assert register.balance(lot.id) == Decimal("98")


def test_count_correction_needs_a_reason_and_a_witness(client, staff) -> None:
    lot = make_lot(staff["nurse"], staff["witness"])
    url = f"/register/lots/{lot.id}/corrections"
    data = {"direction": "remove", "quantity": "1.5", "reason": ""}
    assert post_register(client, url, data=data).status_code == 422
    no_witness = post_register(client, url, data={**data, "reason": "Spillage found at count"})
    assert no_witness.status_code == 422
    assert "Choose the witness." in no_witness.get_data(as_text=True)
    ok = post_register(
        client,
        url,
        data={
            **data,
            "reason": "Spillage found at count",
            "witness_id": str(staff["witness"].id),
            "witness_password": PASSWORD,
        },
    )
    assert ok.status_code == 302
    assert register.balance(lot.id) == Decimal("98.5")


def test_movement_beyond_the_balance_is_refused_with_the_balance(client, staff) -> None:
    lot = make_lot(staff["nurse"], staff["witness"], quantity="5")
    response = post_register(
        client,
        f"/register/lots/{lot.id}/movements",
        data={"kind": "return", "quantity": "6", "reason": ""},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "holds 5 mL by its ledger" in page and "below zero" in page
    assert 'value="6"' in page
    assert register.balance(lot.id) == Decimal("5")


# --- drawing from the chart ---------------------------------------------------------------------


@pytest.fixture
def at_the_chair(staff, make_user) -> dict[str, Any]:
    """A session open under the signed-in nurse, and a lot of ketamine on the shelf."""
    infusion_session = open_session_for(make_patient(), staff["nurse"], staff["clinician"])
    lot = make_lot(staff["nurse"], staff["witness"], quantity="20")
    return {**staff, "session": infusion_session, "lot": lot}


def draw(client: FlaskClient, chair: dict[str, Any], **overrides: Any) -> Any:
    values = {
        "lot_id": str(chair["lot"].id),
        "drawn": "5",
        "given": "3",
        "wasted": "2",
        "waste_witness_id": str(chair["witness"].id),
        "waste_witness_password": PASSWORD,
    }
    values.update(overrides)
    return post_administration(client, chair["session"].id, **values)


def test_administration_of_a_controlled_drug_names_its_lot(client, at_the_chair) -> None:
    response = draw(client, at_the_chair, lot_id="", drawn="", given="", wasted="")
    assert response.status_code == 422
    assert "controlled drug: choose the register lot" in response.get_data(as_text=True)
    assert _db.session.scalars(sa.select(Administration)).all() == []


def test_draw_and_waste_land_in_the_ledger_with_the_administration(client, at_the_chair) -> None:
    response = draw(client, at_the_chair)
    assert response.status_code == 302, response.get_data(as_text=True)
    (administration,) = _db.session.scalars(sa.select(Administration)).all()
    lot_id = at_the_chair["lot"].id
    _, given, wasted = entries(lot_id)
    assert (given.kind, given.quantity, given.drawn, given.administration_id) == (
        EntryKind.DRAW,
        Decimal("-3"),
        Decimal("5"),
        administration.id,
    )
    assert given.patient_id == at_the_chair["session"].patient_id
    assert (wasted.kind, wasted.quantity, wasted.witness_id) == (
        EntryKind.WASTE,
        Decimal("-2"),
        at_the_chair["witness"].id,
    )
    assert register.balance(lot_id) == Decimal("15")
    assert '"kind":[null,"waste"]' in audit_actions("register_entry_recorded")[-1].changes
    # The free-text lot number the chart had is still stored as typed.
    assert administration.lot_number == "LOT-42"
    chart = client.get(f"/sessions/{at_the_chair['session'].id}").get_data(as_text=True)
    assert "drawn 5, given 3 mL" in chart
    assert "wasted 2 mL, witness Wanda Witness, RN" in chart


def test_drawn_must_equal_given_plus_wasted_as_entered(client, at_the_chair) -> None:
    response = draw(client, at_the_chair, drawn="5", given="3", wasted="1.5")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "is not given (3) plus wasted (1.5) as entered" in page
    # Nothing is worked out for her: the three fields keep what she typed.
    assert 'value="5"' in page and 'value="1.5"' in page
    assert _db.session.scalars(sa.select(Administration)).all() == []
    assert len(entries(at_the_chair["lot"].id)) == 1


def test_waste_at_the_chair_needs_a_different_witness_with_password(client, at_the_chair) -> None:
    wrong = draw(client, at_the_chair, waste_witness_password="guess")
    assert wrong.status_code == 422
    assert "witness&#39;s password is not correct" in wrong.get_data(as_text=True)
    self_witness = draw(client, at_the_chair, waste_witness_id=str(at_the_chair["nurse"].id))
    assert "someone other than you" in self_witness.get_data(as_text=True)
    assert _db.session.scalars(sa.select(Administration)).all() == []
    # No waste, no witness needed.
    assert draw(client, at_the_chair, drawn="3", wasted="", waste_witness_id="").status_code == 302


def test_expired_lot_is_refused_with_the_reason(client, at_the_chair) -> None:
    expired = make_lot(
        at_the_chair["nurse"],
        at_the_chair["witness"],
        lot_number="OLD-1",
        invoice="INV-OLD",
        received_on=local_now().date() - timedelta(days=400),
        expires_on=local_now().date() - timedelta(days=1),
    )
    response = draw(client, at_the_chair, lot_id=str(expired.id))
    assert response.status_code == 422
    assert "expired on" in response.get_data(as_text=True)
    assert _db.session.scalars(sa.select(Administration)).all() == []


def test_draw_beyond_the_balance_is_refused_and_the_administration_not_stored(
    client, at_the_chair
) -> None:
    response = draw(client, at_the_chair, drawn="25", given="23", wasted="2")
    assert response.status_code == 422
    assert "holds 20 mL by its ledger" in response.get_data(as_text=True)
    assert _db.session.scalars(sa.select(Administration)).all() == []


@pytest.mark.parametrize(
    ("field", "typed", "message"),
    [
        ("drawn", "5.125", "At most 2 decimal places"),
        ("given", "-3", "Enter a number"),
        ("drawn", "99999", "not plausible"),
        ("given", "", "Enter the quantity given"),
    ],
)
def test_draw_quantities_are_refused_field_by_field(
    client, at_the_chair, field, typed, message
) -> None:
    response = draw(client, at_the_chair, **{field: typed})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page
    assert f'id="administration-{field}-error"' in page


def test_a_drug_the_register_does_not_hold_names_no_lot(client, at_the_chair) -> None:
    response = draw(client, at_the_chair, drug="Ondansetron", dose_unit="mg")
    assert response.status_code == 422
    assert "leave the lot empty" in response.get_data(as_text=True)
    ok = post_administration(
        client, at_the_chair["session"].id, drug="Ondansetron", dose_amount="4", dose_unit="mg"
    )
    assert ok.status_code == 302


def test_lot_of_another_drug_is_refused(client, at_the_chair) -> None:
    spray = make_lot(
        at_the_chair["nurse"],
        at_the_chair["witness"],
        drug="Esketamine",
        form=LotForm.NASAL_DEVICE,
        container_ml=None,
        lot_number="ES-1",
        invoice="INV-ES",
        quantity="10",
    )
    response = draw(client, at_the_chair, lot_id=str(spray.id), drawn="1", given="1", wasted="")
    assert response.status_code == 422
    assert "is Esketamine" in response.get_data(as_text=True)


def test_before_the_register_holds_a_lot_administrations_chart_as_before(
    client, staff, make_user
) -> None:
    infusion_session = open_session_for(make_patient(), staff["nurse"], staff["clinician"])
    response = post_administration(client, infusion_session.id)
    assert response.status_code == 302
    assert entries() == []


# --- concurrency --------------------------------------------------------------------------------


@pytest.mark.skipif(not server_url(), reason="row locks: PostgreSQL (TEST_DATABASE_URL)")
def test_balance_never_below_zero_under_concurrent_draws(app: Flask, make_user) -> None:
    """Eight nurses draw 3 mL each at once from a lot of 10 mL: three are served, five are told
    the balance, and the ledger holds each served draw once."""
    witness = make_user(Role.NURSE)
    first = make_user(Role.NURSE)
    clinician = make_user(Role.CLINICIAN)
    lot = make_lot(first, witness, quantity="10")
    nurses = [make_user(Role.NURSE) for _ in range(8)]
    session_ids = [open_session_for(make_patient(), nurse, clinician).id for nurse in nurses]
    lot_id = lot.id
    nurse_ids = [nurse.id for nurse in nurses]
    _db.session.remove()
    barrier = threading.Barrier(len(nurses))
    outcomes: dict[int, str] = {}

    def nurse_draws(index: int) -> None:
        with app.app_context():
            nurse = _db.session.get(User, nurse_ids[index])
            barrier.wait(timeout=30)
            try:
                register.draw_for_administration(
                    nurse,
                    drug="Ketamine hydrochloride",
                    draw=register.DrawDetails(
                        lot_id,
                        Decimal("3"),
                        Decimal("3"),
                        None,
                        register.Witness(None, ""),
                    ),
                    administration_id=None,  # type: ignore[arg-type]
                    patient_id=None,  # type: ignore[arg-type]
                    occurred_at=utcnow(),
                )
                _db.session.commit()
                outcomes[index] = "drawn"
            except register.RegisterError as error:
                _db.session.rollback()
                outcomes[index] = error.message
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=nurse_draws, args=(i,)) for i in range(len(nurses))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(session_ids) == len(outcomes) == 8
    served = [i for i, outcome in outcomes.items() if outcome == "drawn"]
    refused = [outcome for outcome in outcomes.values() if outcome != "drawn"]
    assert len(served) == 3
    assert all("below zero" in message for message in refused)
    draws = [e for e in entries(lot_id) if e.kind == EntryKind.DRAW]
    assert len(draws) == 3
    assert register.balance(lot_id) == Decimal("1")


# --- counts -------------------------------------------------------------------------------------


def test_count_by_two_people_keeps_a_discrepancy_open_until_a_clinician_resolves_it(
    client, staff
) -> None:
    lot = make_lot(staff["nurse"], staff["witness"], quantity="20")
    url = f"/register/lots/{lot.id}/counts"
    alone = post_register(client, url, data={"counted": "19", "witness_id": ""})
    assert alone.status_code == 422
    counted = post_register(
        client,
        url,
        data={
            "counted": "19",
            "witness_id": str(staff["witness"].id),
            "witness_password": PASSWORD,
        },
    )
    assert counted.status_code == 302
    count = entries(lot.id)[-1]
    assert (count.expected, count.counted, count.discrepancy) == (
        Decimal("20"),
        Decimal("19"),
        Decimal("-1"),
    )
    assert register.open_counts() == [count]
    assert "Count discrepancies open" in client.get("/register/").get_data(as_text=True)
    # A nurse does not resolve it.
    resolve = f"/register/counts/{count.id}/resolve"
    nurse_try = post_register(client, resolve, data={"outcome": "count_wrong", "reason": "recount"})
    assert nurse_try.status_code == 403
    client.post("/logout")
    login(client, staff["clinician"].username)
    no_reason = post_register(client, resolve, data={"outcome": "correct", "reason": ""})
    assert no_reason.status_code == 422
    spilled = {"outcome": "correct", "reason": "1 mL spilled"}
    no_witness = post_register(client, resolve, data=spilled)
    assert no_witness.status_code == 422
    ok = post_register(
        client,
        resolve,
        data={
            "outcome": "correct",
            "reason": "1 mL spilled at the last draw, not recorded",
            "witness_id": str(staff["witness"].id),
            "witness_password": PASSWORD,
        },
    )
    assert ok.status_code == 302
    assert register.open_counts() == []
    assert register.balance(lot.id) == Decimal("19")
    resolution = entries(lot.id)[-1]
    assert (resolution.kind, resolution.resolves_id) == (EntryKind.CORRECTION, count.id)
    again = post_register(client, resolve, data={"outcome": "count_wrong", "reason": "twice"})
    assert again.status_code == 422


def test_a_count_found_wrong_leaves_the_ledger_as_it_was(client, staff) -> None:
    lot = make_lot(staff["nurse"], staff["witness"], quantity="20")
    register.record_count(
        staff["nurse"], lot.id, Decimal("18"), register.Witness(staff["witness"].id, PASSWORD), None
    )
    _db.session.commit()
    count = entries(lot.id)[-1]
    register.resolve_count(staff["clinician"], count.id, "Recounted: 20 mL", False, None)
    _db.session.commit()
    assert register.balance(lot.id) == Decimal("20")
    assert register.open_counts() == []


# --- reports ------------------------------------------------------------------------------------


def test_dispensing_log_lists_each_draw_with_patient_and_who(client, at_the_chair) -> None:
    assert draw(client, at_the_chair).status_code == 302
    today = local_now().date().isoformat()
    page = client.get(f"/register/reports/dispensing?start={today}&end={today}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    patient = at_the_chair["session"].patient
    assert patient.display_name in text and "Nora Nurse" in text and "Wanda Witness" in text
    response = client.get(f"/register/reports/dispensing?start={today}&end={today}&format=csv")
    assert response.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][0] == "Date and time" and len(rows) == 2
    assert rows[1][8:12] == ["5", "3", "2", "mL"]
    assert audit_actions("register_viewed")


def test_register_csv_is_safe_from_formula_injection(client, staff) -> None:
    lot = make_lot(staff["nurse"], staff["witness"])
    register.record_movement(
        staff["nurse"],
        lot.id,
        EntryKind.WASTE,
        Decimal("1"),
        '=HYPERLINK("http://evil")',
        register.Witness(staff["witness"].id, PASSWORD),
        None,
    )
    _db.session.commit()
    today = local_now().date().isoformat()
    body = client.get(f"/register/reports/waste?start={today}&end={today}&format=csv")
    text = body.get_data(as_text=True)
    assert "'=HYPERLINK" in text
    assert ",=HYPERLINK" not in text


def test_inventory_at_a_date_is_the_ledger_as_it_stood(client, staff) -> None:
    lot = make_lot(staff["nurse"], staff["witness"], quantity="30")
    register.record_movement(staff["nurse"], lot.id, EntryKind.RETURN, Decimal("5"), "", None, None)
    _db.session.commit()
    today = local_now().date()
    yesterday = (today - timedelta(days=1)).isoformat()
    now = client.get(f"/register/reports/inventory?on={today.isoformat()}&format=csv")
    rows = list(csv.reader(io.StringIO(now.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[1][4:8] == ["KT-1", lot.expires_on.isoformat(), "25", "mL"]
    before = client.get(f"/register/reports/inventory?on={yesterday}&format=csv")
    assert len(list(csv.reader(io.StringIO(before.get_data(as_text=True))))) == 1
    printable = client.get(f"/register/reports/inventory?on={today.isoformat()}&print=1")
    assert printable.status_code == 200 and "KT-1" in printable.get_data(as_text=True)


def test_report_dates_out_of_range_are_a_message_not_a_500(client, staff) -> None:
    for query in ("start=0001-01-01", "start=2026-02-30", "start=2026-05-01&end=2026-04-01"):
        response = client.get(f"/register/reports/dispensing?{query}")
        assert response.status_code == 422, query
    assert client.get("/register/reports/inventory?on=99999-01-01").status_code == 422


def test_register_pages_are_audited_like_record_views(client, staff) -> None:
    lot = make_lot(staff["nurse"], staff["witness"])
    for url in ("/register/", f"/register/lots/{lot.id}", "/register/reports/waste"):
        assert client.get(url).status_code == 200
    pages = [event.changes for event in audit_actions("register_viewed")]
    assert len(pages) == 3
    assert any('"page":"lot"' in changes for changes in pages)


def test_admins_see_no_register(client, make_user) -> None:
    admin = make_user(Role.ADMIN)
    login(client, admin.username)
    assert client.get("/register/").status_code == 403


def test_dispensing_log_reads_in_constant_statements(client, at_the_chair, make_user) -> None:
    """The log's statements do not grow with its lines (bench/ measures a year of two-year
    register)."""
    today = local_now().date().isoformat()
    url = f"/register/reports/dispensing?start={today}&end={today}"

    def statements() -> int:
        client.get(url)  # warm: compiled statements and templates, as a running server has
        with count_queries(_db.engine) as log:
            assert client.get(url).status_code == 200
        return len(log)

    assert draw(client, at_the_chair).status_code == 302
    one = statements()
    for _ in range(4):
        other = open_session_for(make_patient(), at_the_chair["nurse"], at_the_chair["clinician"])
        small = {"drawn": "3", "given": "2", "wasted": "1"}
        assert draw(client, {**at_the_chair, "session": other}, **small).status_code == 302
    assert len([e for e in entries() if e.kind == EntryKind.DRAW]) == 5
    assert statements() == one


PG_TRIGGER = "register_entry_no_change"


def test_the_ledger_is_checked_against_its_trail(app, staff) -> None:
    """`flask audit verify` replays every ledger entry from its audit event: a quantity changed
    behind the app's back (its trigger dropped first) is reported with its row."""
    lot = make_lot(staff["nurse"], staff["witness"])
    register.record_movement(staff["nurse"], lot.id, EntryKind.RETURN, Decimal("4"), "", None, None)
    _db.session.commit()
    returned = entries(lot.id)[-1].id
    runner = app.test_cli_runner()
    _db.session.close()
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    with _db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"ALTER TABLE register_entry DISABLE TRIGGER {PG_TRIGGER}")
        else:
            conn.exec_driver_sql("DROP TRIGGER register_entry_no_update")
        conn.execute(sa.update(LedgerEntry).where(LedgerEntry.id == returned).values(quantity=-1))
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"ALTER TABLE register_entry ENABLE TRIGGER {PG_TRIGGER}")
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"record BROKEN: register_entry {returned} quantity" in result.output


def test_a_count_is_not_voided_and_the_page_says_so(client, staff) -> None:
    lot = make_lot(staff["nurse"], staff["witness"])
    second = register.Witness(staff["witness"].id, PASSWORD)
    register.record_count(staff["nurse"], lot.id, Decimal("100"), second, None)
    _db.session.commit()
    count = entries(lot.id)[-1]
    empty = post_register(client, f"/register/entries/{count.id}/void", {"reason": ""})
    assert empty.status_code == 422
    response = post_register(client, f"/register/entries/{count.id}/void", {"reason": "wrong"})
    assert response.status_code == 422
    assert "Only a movement of stock is voided." in response.get_data(as_text=True)
    assert len(entries(lot.id)) == 2
