"""Journey: the controlled-substance register (issue 17). A nurse receives a lot of ketamine with
a second nurse as witness, gives a dose from it in a session with 2 mL wasted and witnessed,
counts the lot with a discrepancy that a clinician resolves, and prints the dispensing log.

On a server and database of its own: once the register holds a lot of ketamine, every ketamine
administration names its lot, and the other journeys, sharing the live server, chart theirs
without one.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from tests.browser.checks import check_page, screenshot
from tests.browser.conftest import (
    LiveServer,
    PageProblems,
    _free_port,
    _gunicorn,
    _wait_until_up,
)
from tests.browser.journeys import (
    PatientDetails,
    Staff,
    change_password_if_needed,
    create_staff,
    first_sign_in,
    open_course_for,
    open_session,
    register_patient,
    sign_in,
    sign_out,
)

TABLET = {"width": 1024, "height": 1366}
ADMIN = "register.admin"
ADMIN_FIRST = "register-first-password-9"
ADMIN_CHOSEN = "register-office-passphrase-3"
NURSE = Staff("rhea.lund", "Rhea Lund", "RN", "Nurse", "register-nurse-passphrase-5")
WITNESS = Staff("tomas.berg", "Tomas Berg", "RN", "Nurse", "register-witness-passphrase-8")
CLINICIAN = Staff("ines.mora", "Ines Mora", "MD", "Clinician", "register-doctor-passphrase-4")
PATIENT = PatientDetails("J17-0001", "Halvorsen", "Britt")


@pytest.fixture
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": TABLET, "has_touch": True}


@pytest.fixture(scope="module")
def register_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The app under gunicorn on a database of its own, with its first admin."""
    server = os.environ.get("TEST_DATABASE_URL")
    pg_name = None
    admin_engine = None
    if server:
        pg_name = f"clinic_test_register_{uuid.uuid4().hex[:8]}"
        admin_engine = sa.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
        with admin_engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{pg_name}"')
        database_url = sa.engine.make_url(server).set(database=pg_name).render_as_string(False)
    else:
        database_url = f"sqlite:///{tmp_path_factory.mktemp('register') / 'clinic.sqlite3'}"
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
        live.flask("create-admin", ADMIN, "--password", ADMIN_FIRST, "--must-change")
        process = _gunicorn(env, port, "wsgi:app")
        _wait_until_up(live.url + "/healthz", process)
        yield live
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=20)
        if pg_name and admin_engine is not None:
            with admin_engine.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


@pytest.fixture
def problems(page: Page, register_server: LiveServer) -> Iterator[PageProblems]:
    """Console errors and failed requests, on this module's own server."""
    watcher = PageProblems(urlsplit(register_server.url).netloc)
    watcher.watch(page)
    yield watcher
    watcher.assert_clean()


def witness(form: Any, person: Staff, select: str, password: str) -> None:
    form.get_by_label(select, exact=True).select_option(label=person.display_name)
    form.get_by_label(password, exact=True).fill(person.password)


def test_register_receive_give_waste_count_and_print(
    page: Page, browser, register_server: LiveServer, problems, screenshot_dir: Path
) -> None:
    base = register_server.url
    admin_page = browser.new_page()
    assert sign_in(admin_page, base, ADMIN, ADMIN_FIRST)
    change_password_if_needed(admin_page, ADMIN_FIRST, ADMIN_CHOSEN)
    for person in (NURSE, WITNESS, CLINICIAN):
        create_staff(admin_page, person)
    sign_out(admin_page)
    admin_page.close()
    for person in (WITNESS, CLINICIAN):
        other = browser.new_page()
        first_sign_in(other, base, person)
        other.close()

    first_sign_in(page, base, NURSE)
    patient_id = register_patient(page, PATIENT)
    open_course_for(register_server, patient_id, CLINICIAN, CLINICIAN.password)

    # Receive a lot, the second nurse witnessing with her own password on this screen.
    main_nav = page.get_by_role("navigation", name="Main")
    main_nav.get_by_role("link", name="Register", exact=True).click()
    expect(page.get_by_text("The register holds no lot yet.")).to_be_visible()
    check_page(page)
    page.get_by_role("link", name="Receive a lot").click()
    form = page.locator("form", has=page.get_by_role("button", name="Receive into the register"))
    form.get_by_label("Drug").select_option(label="Ketamine")
    form.get_by_label("Strength or concentration").fill("50 mg/mL")
    form.locator("label", has_text="Vial").first.click()
    form.get_by_label("Vial size, mL (vials)").fill("10")
    form.get_by_label("NDC").fill("0409-2053-10")
    form.get_by_label("Lot number").fill("KT-24117")
    form.get_by_label("Expiry").fill("2028-06-30")
    form.get_by_label("Supplier").fill("Northeast Pharma Supply")
    form.get_by_label("Invoice").fill("NPS-889412")
    form.get_by_label("Quantity received", exact=False).fill("100")
    # The witness first types a wrong password: refused, and what was typed stays.
    witness(form, WITNESS, "Witness", "Witness's own password")
    form.get_by_label("Witness's own password", exact=True).fill("not-her-password")
    form.get_by_role("button", name="Receive into the register").click()
    expect(page.get_by_text("The witness's password is not correct")).to_be_visible()
    expect(form.get_by_label("Lot number")).to_have_value("KT-24117")
    check_page(page)
    form.get_by_label("Witness's own password", exact=True).fill(WITNESS.password)
    screenshot(page, screenshot_dir, "register-receive")
    form.get_by_role("button", name="Receive into the register").click()
    expect(page.get_by_text("Lot received into the register.")).to_be_visible()
    expect(page.get_by_test_id("balance")).to_have_text("100 mL")
    lot_url = page.url
    check_page(page)

    # A session: 35 mg given from the lot, 5 mL drawn, 3 mL given, 2 mL wasted and witnessed.
    page.goto(f"{base}/patients/{patient_id}")
    session_id = open_session(page, CLINICIAN, NURSE)
    card = page.locator("details", has=page.get_by_text("Record an administration"))
    if card.get_attribute("open") is None:
        card.get_by_text("Record an administration").click()
    card.get_by_label("Order carried out").select_option(index=1)
    card.get_by_label("Method").select_option(label="Infusion")
    card.get_by_label("Dose", exact=True).fill("0.5")
    card.get_by_label("Dose unit").select_option(label="mg/kg")
    card.get_by_label("Site").fill("Left antecubital")
    card.get_by_label("Register lot (controlled drugs)").select_option(index=1)
    card.get_by_label("Drawn (lot's unit)").fill("5")
    card.get_by_label("Given (lot's unit)").fill("3")
    card.get_by_label("Wasted (lot's unit)").fill("1.5")
    witness(card, WITNESS, "Witness of the waste", "Witness's password")
    card.get_by_role("button", name="Record administration").click()
    # Drawn is not given plus wasted as typed: refused, nothing worked out for her.
    expect(page.get_by_text("is not given (3) plus wasted (1.5) as entered")).to_be_visible()
    card = page.locator("details", has=page.get_by_text("Record an administration"))
    expect(card.get_by_label("Drawn (lot's unit)")).to_have_value("5")
    card.get_by_label("Wasted (lot's unit)").fill("2")
    card.get_by_label("Witness's password", exact=True).fill(WITNESS.password)
    card.get_by_role("button", name="Record administration").click()
    expect(page.get_by_text("Administration recorded.")).to_be_visible()
    check_page(page)
    screenshot(page, screenshot_dir, "register-chart-draw")

    page.goto(lot_url)
    expect(page.get_by_test_id("balance")).to_have_text("95 mL")
    ledger = page.get_by_test_id("ledger")
    expect(ledger).to_contain_text("drawn 5, given 3 mL")
    expect(ledger).to_contain_text(f"witness: {WITNESS.display_name}")

    # The count: 94 mL on the shelf, the ledger says 95: the discrepancy stays open.
    count = page.locator("form", has=page.get_by_role("button", name="Record count"))
    count.get_by_label("Counted on the shelf (the lot's unit)").fill("94")
    witness(count, WITNESS, "Second person counting", "Second person's own password")
    count.get_by_role("button", name="Record count").click()
    expect(page.get_by_text("Count recorded.")).to_be_visible()
    expect(page.get_by_test_id("discrepancy")).to_have_text("discrepancy -1")
    page.get_by_role("navigation", name="Register").get_by_role("link", name="Lots").click()
    expect(page.get_by_test_id("open-discrepancies")).to_contain_text("counted 94")
    check_page(page)
    sign_out(page)

    # A clinician resolves it with a reason: the shelf is right, a witnessed correction.
    assert sign_in(page, base, CLINICIAN.username, CLINICIAN.password)
    page.goto(lot_url)
    resolve = page.get_by_test_id("resolve-form")
    resolve.locator("label", has_text="The shelf is right").click()
    resolve.get_by_label("Reason").fill("1 mL spilled at the draw, seen by both nurses")
    witness(resolve, WITNESS, "Witness (for a correction)", "Witness's own password")
    screenshot(page, screenshot_dir, "register-count-discrepancy")
    resolve.get_by_role("button", name="Resolve discrepancy").click()
    expect(page.get_by_text("Discrepancy resolved.")).to_be_visible()
    expect(page.get_by_test_id("balance")).to_have_text("94 mL")
    check_page(page)

    # The dispensing log, on screen and printable.
    register_nav = page.get_by_role("navigation", name="Register")
    register_nav.get_by_role("link", name="Dispensing log").click()
    report = page.get_by_test_id("report")
    expect(report).to_contain_text(PATIENT.display_name)
    expect(report).to_contain_text(NURSE.display_name)
    check_page(page)
    page.get_by_test_id("print-link").click()
    expect(page).to_have_url(re.compile(r"print=1"))
    page.emulate_media(media="print")
    screenshot(page, screenshot_dir, "register-dispensing-log")
    page.emulate_media(media="screen")
    csv_link = page.get_by_test_id("csv-link").get_attribute("href")
    assert csv_link and "format=csv" in csv_link
    assert session_id
