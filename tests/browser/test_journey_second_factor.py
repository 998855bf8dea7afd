"""Journey 5: a clinician's second factor (issue 12). At her first sign-in she sets up her
authenticator app from the QR page (the test computes the app's codes from the key the page
shows, as the phone would from the QR code), signs in again with its code, and signs a session
with her password and code; a stranger's five wrong passwords for her username meanwhile do not
end her open session."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.checks import check_page, screenshot
from tests.browser.journeys import (
    LOGIN_REFUSED,
    TEMPORARY_PASSWORD,
    PatientDetails,
    Staff,
    authenticator_code,
    change_password_if_needed,
    complete_checklist,
    create_staff_as_admin,
    enter_code,
    open_course_for,
    open_session,
    record_administration,
    register_patient,
    set_up_authenticator,
    sign_in,
    sign_out,
)

NURSE = Staff("ruth.adeyemi", "Ruth Adeyemi", "RN", "Nurse", "recovery-bay-passphrase-26")
CLINICIAN = Staff("hana.sato", "Hana Sato", "MD", "Clinician", "two-step-desk-passphrase-83")
PATIENT = PatientDetails("J5-0001", "Moreau", "Celine")


def type_password(page: Page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_clinician_sets_up_her_second_factor_and_signs_with_it(
    page: Page, browser: Any, live_server: Any, problems: Any, screenshot_dir: Any
) -> None:
    base = live_server.url
    admin_page = browser.new_page()
    create_staff_as_admin(admin_page, base, NURSE, CLINICIAN, check=False)
    admin_page.close()

    # First sign-in: the password is right, and the second factor is set up before anything else.
    type_password(page, base, CLINICIAN.username, TEMPORARY_PASSWORD)
    expect(page).to_have_url(re.compile(r"/login/second-factor$"))
    check_page(page)
    qr_code = page.get_by_role("img", name=re.compile("QR code to add the account hana.sato"))
    expect(qr_code).to_be_visible()
    assert (qr_code.get_attribute("src") or "").startswith("data:image/svg+xml")
    screenshot(page, screenshot_dir, "second-factor-qr")
    page.get_by_label("Code from the app").fill("000000")
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("The code does not match")).to_be_visible()
    recovery_codes = set_up_authenticator(page, CLINICIAN.username)
    assert all(re.fullmatch(r"[a-z2-7]{4}(-[a-z2-7]{4}){3}", code) for code in recovery_codes)
    expect(page).to_have_url(re.compile(r"/password$"))
    change_password_if_needed(page, TEMPORARY_PASSWORD, CLINICIAN.password)
    sign_out(page)

    # Her next sign-in: the password, then the code her app shows.
    type_password(page, base, CLINICIAN.username, CLINICIAN.password)
    expect(page.get_by_role("heading", name="Sign in: your code")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    enter_code(page, CLINICIAN.username)
    expect(page.get_by_role("heading", name="Today", exact=True)).to_be_visible()

    # A session to sign, charted by her (a clinician charts like a nurse).
    patient_id = register_patient(page, PATIENT, check=False)
    open_course_for(live_server, patient_id, CLINICIAN, password=CLINICIAN.password)
    session_id = open_session(page, CLINICIAN, NURSE, check=False)
    record_administration(page)  # as ordered: no deviation to acknowledge
    complete_checklist(page, driver="Luc Moreau")

    # A stranger types five wrong passwords for her username, then her right one: all refused.
    stranger = browser.new_context()
    stranger_page = stranger.new_page()
    for _ in range(5):
        assert not sign_in(stranger_page, base, CLINICIAN.username, "guessing-her-password-1")
    assert not sign_in(stranger_page, base, CLINICIAN.username, CLINICIAN.password, check=False)
    expect(stranger_page.get_by_text(LOGIN_REFUSED)).to_be_visible()
    stranger.close()

    # Her open session goes on: the chart is hers still.
    page.reload()
    expect(page).to_have_url(re.compile(rf"/sessions/{session_id}"))
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()

    # Signing takes the password and the code: the password alone is refused.
    sign_off = page.get_by_role("region", name="Sign-off")
    sign_off.get_by_label("Your password").fill(CLINICIAN.password)
    sign_off.get_by_role("button", name="Sign session").click()
    sign_off = page.get_by_role("region", name="Sign-off")
    expect(sign_off.get_by_text("The code is not correct")).to_be_visible()
    expect(page.get_by_test_id("session-status")).not_to_have_text("Signed")
    check_page(page)

    sign_off.get_by_label("Your password").fill(CLINICIAN.password)
    sign_off.get_by_label("Code from your authenticator app").fill(
        authenticator_code(CLINICIAN.username)
    )
    sign_off.get_by_role("button", name="Sign session").click()
    expect(page.get_by_text("Session signed and locked.")).to_be_visible()
    expect(page.get_by_test_id("session-status")).to_have_text("Signed")
    expect(page.get_by_test_id("signature")).to_contain_text(CLINICIAN.display_name)
    check_page(page)
    sign_out(page)
