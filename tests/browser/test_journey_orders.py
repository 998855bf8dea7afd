"""Journey 6: consent, course and orders (issue 13). A clinician records the patient's consent,
opens a course and writes and signs its treatment order; the nurse opens session 1 of the
course, gives the ordered dose and a second one that deviates from it; the clinician
acknowledges the deviation, which sign-off waited for, and signs. The app computes nothing: the
amounts on the chart are the ones typed."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.checks import check_page, screenshot
from tests.browser.journeys import (
    PatientDetails,
    Staff,
    authenticator_code,
    choose,
    complete_checklist,
    create_staff_as_admin,
    first_sign_in,
    open_session,
    record_administration,
    register_patient,
    sign_in,
    sign_out,
)

NURSE = Staff("amara.diallo", "Amara Diallo", "RN", "Nurse", "infusion-bay-passphrase-58")
CLINICIAN = Staff("tomas.lindqvist", "Tomas Lindqvist", "MD", "Clinician", "order-desk-pass-91")
PATIENT = PatientDetails("J6-0001", "Haddad", "Leila")


def record_consent_from_header(page: Page) -> None:
    page.get_by_role("link", name="Consents").first.click()
    page.get_by_test_id("record-consent").click()
    check_page(page)
    page.get_by_label("Consent for").select_option(label="IV ketamine")
    page.get_by_label("Document title").fill("Consent to IV ketamine treatment")
    page.get_by_label("Document version").fill("2026-2")
    page.get_by_label("Witnessed by").fill("Rita Witness, RN")
    page.get_by_role("button", name="Record consent").click()
    expect(page.get_by_text("Consent recorded.")).to_be_visible()


def open_course(page: Page, patient_id: int) -> None:
    page.goto(re.sub(r"(https?://[^/]+).*", r"\1", page.url) + f"/patients/{patient_id}")
    page.get_by_role("link", name="Open a course").click()
    check_page(page)
    page.get_by_label("Indication").select_option(label="Depression")
    page.get_by_label("Induction").check()
    page.get_by_label("Planned sessions").fill("6")
    page.get_by_label("Start date").fill(date.today().isoformat())
    page.get_by_label("Review due").fill((date.today() + timedelta(days=21)).isoformat())
    page.get_by_role("button", name="Open course").click()
    expect(page.get_by_role("heading", name=re.compile("Treatment course"))).to_be_visible()


def write_treatment_order(page: Page) -> None:
    page.get_by_role("link", name="Write an order").first.click()
    check_page(page)
    choose(page.get_by_role("group", name="Kind of order"), "Treatment")
    page.get_by_label("Drug").fill("Ketamine hydrochloride")
    page.get_by_label("Concentration (optional)").fill("10 mg/mL")
    page.get_by_label("Amount to give").fill("35")
    page.get_by_label("Unit").select_option(label="mg")
    page.get_by_label("Route").select_option(label="Intravenous (IV)")
    page.get_by_label("Method").select_option(label="Infusion")
    page.get_by_label("Rate or duration (optional)").fill("over 40 minutes")
    page.get_by_label("Note (optional)").fill("0.5 mg/kg for 70 kg, my arithmetic")
    # A wrong password signs nothing and keeps what was written.
    page.get_by_label("Your password, to sign").fill("not-my-password-at-all")
    page.get_by_role("button", name="Sign order").click()
    expect(page.get_by_text("The password is not correct")).to_be_visible()
    expect(page.get_by_label("Amount to give")).to_have_value("35")
    page.get_by_label("Your password, to sign").fill(CLINICIAN.password)
    page.get_by_role("button", name="Sign order").click()
    expect(page.get_by_text("Order signed.")).to_be_visible()
    check_page(page)


def test_clinician_orders_nurse_gives_and_a_deviation_is_acknowledged_before_signing(
    page: Page, browser: Any, live_server: Any, problems: Any, screenshot_dir: Any
) -> None:
    base = live_server.url
    admin_page = browser.new_page()
    create_staff_as_admin(admin_page, base, NURSE, CLINICIAN, check=False)
    admin_page.close()
    page.set_viewport_size({"width": 1024, "height": 768})

    # The clinician: consent, course, order.
    first_sign_in(page, base, CLINICIAN, check=False)  # sets up the authenticator on the way
    patient_id = register_patient(page, PATIENT, check=False)
    record_consent_from_header(page)
    open_course(page, patient_id)
    write_treatment_order(page)
    page.get_by_role("link", name=re.compile("The course's orders")).first.click()
    expect(page.get_by_test_id("order-status").first).to_have_text("In force")
    course_page = page.url
    sign_out(page)

    # The nurse: session 1 of the course, the dose as ordered, then one that differs.
    first_sign_in(page, base, NURSE, check=False)
    page.goto(f"{base}/patients/{patient_id}")
    session_id = open_session(page, CLINICIAN, NURSE, check=False)
    expect(page.get_by_text(re.compile(r"session 1 of 6"))).to_be_visible()
    panel = page.get_by_test_id("orders-panel")
    expect(panel.get_by_test_id("order-amount")).to_have_text("35 mg")
    # The form beside the order is blank: nothing copied into it from the order.
    card = page.locator("details", has=page.get_by_text("Record an administration"))
    if card.get_attribute("open") is None:
        card.get_by_text("Record an administration").click()
    expect(card.get_by_label("Dose", exact=True)).to_have_value("")
    record_administration(page, dose="35", dose_unit="mg")
    record_administration(page, method="Bolus", dose="5", dose_unit="mg")
    deviations = page.get_by_test_id("deviations")
    expect(deviations).to_contain_text("amount 5 mg, ordered 35 mg")
    expect(deviations.get_by_test_id("deviation-waiting")).to_be_visible()
    complete_checklist(page, driver="Samir Haddad")
    check_page(page)
    # What the nurse reads at the chair: the orders in force, what was given and the deviation.
    top = panel.evaluate("e => e.getBoundingClientRect().top + window.scrollY")
    bottom = deviations.evaluate("e => e.getBoundingClientRect().bottom + window.scrollY")
    page.screenshot(
        path=str(screenshot_dir / "chart-orders.png"),
        full_page=True,
        clip={"x": 0, "y": top - 16, "width": 1024, "height": min(bottom - top + 32, 1400)},
    )
    sign_out(page)

    # The clinician: sign-off waits for the acknowledgement, then signs.
    assert sign_in(page, base, CLINICIAN.username, CLINICIAN.password, check=False)
    page.goto(f"{base}/sessions/{session_id}")
    sign_off = page.get_by_role("region", name="Sign-off")
    expect(sign_off).to_contain_text("acknowledgement of the deviation")
    deviation = page.get_by_test_id("deviation")
    deviation.get_by_role("textbox").fill("Extra 5 mg bolus on my verbal instruction")
    deviation.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_test_id("deviation-acknowledged")).to_contain_text(
        "Extra 5 mg bolus on my verbal instruction"
    )
    sign_off = page.get_by_role("region", name="Sign-off")
    sign_off.get_by_label("Your password").fill(CLINICIAN.password)
    sign_off.get_by_label("Code from your authenticator app").fill(
        authenticator_code(CLINICIAN.username)
    )
    sign_off.get_by_role("button", name="Sign session").click()
    expect(page.get_by_text("Session signed and locked.")).to_be_visible()
    expect(page.get_by_test_id("session-status")).to_have_text("Signed")
    check_page(page)

    # The course: session 1 of 6 held, its order in force.
    page.goto(course_page)
    page.get_by_role("link", name="← Course").click()
    expect(page.get_by_test_id("course-session")).to_have_count(1)
    check_page(page)
    screenshot(page, screenshot_dir, "course")
    sign_out(page)
