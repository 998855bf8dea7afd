"""Journey 1: the admin's first day: first sign-in (the second factor set up, then her own
password), staff accounts, the audit trail."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.checks import check_page, screenshot
from tests.browser.conftest import ADMIN_FIRST_PASSWORD, ADMIN_USERNAME
from tests.browser.journeys import set_up_authenticator

ADMIN_PASSWORD = "a-long-office-passphrase-7"


def sign_in(page: Page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login")
    check_page(page)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def create_account(page: Page, username: str, name: str, credentials: str, role: str) -> None:
    page.get_by_role("link", name="Staff", exact=True).click()
    page.get_by_role("link", name="New account").click()
    check_page(page)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Full name").fill(name)
    page.get_by_label("Credentials").fill(credentials)
    page.get_by_label("Role").select_option(label=role)
    page.get_by_label("Temporary password").fill("temporary-pass-2026")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text(f"Account {username} created.")).to_be_visible()
    check_page(page)


def test_admin_sets_up_staff_and_finds_it_in_the_audit_trail(
    page: Page, live_server, problems, screenshot_dir
) -> None:
    base = live_server.url
    sign_in(page, base, ADMIN_USERNAME, ADMIN_FIRST_PASSWORD)

    # First sign-in: an admin sets up her second factor, nothing is served before it.
    expect(page).to_have_url(re.compile(r"/login/second-factor$"))
    screenshot(page, screenshot_dir, "second-factor-setup")
    page.goto(f"{base}/staff/")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.goto(f"{base}/login/second-factor")  # the sign-in is still half-way: back to it
    set_up_authenticator(page, ADMIN_USERNAME)

    # Then the temporary password must be changed before anything else.
    expect(page).to_have_url(re.compile(r"/password$"))
    check_page(page)
    page.goto(f"{base}/staff/")
    expect(page).to_have_url(re.compile(r"/password$"))
    page.get_by_label("Current password").fill(ADMIN_FIRST_PASSWORD)
    page.get_by_label("New password", exact=True).fill(ADMIN_PASSWORD)
    page.get_by_label("Repeat the new password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Your password is changed.")).to_be_visible()
    check_page(page)

    create_account(page, "nina.nurse", "Nina Nurse", "RN", "Nurse")
    create_account(page, "carl.clinician", "Carl Clinician", "MD", "Clinician")
    screenshot(page, screenshot_dir, "staff-account")

    # Reset the nurse's password.
    page.get_by_role("link", name="Staff", exact=True).click()
    check_page(page)
    screenshot(page, screenshot_dir, "staff-list")
    page.get_by_role("link", name="Nina Nurse, RN").click()
    page.get_by_label("New temporary password").fill("another-temp-pass-99")
    page.get_by_role("button", name="Reset password").click()
    expect(page.get_by_text("Password of nina.nurse reset")).to_be_visible()

    # Deactivate the clinician.
    page.get_by_role("link", name="Staff", exact=True).click()
    page.get_by_role("link", name="Carl Clinician, MD").click()
    page.get_by_role("button", name="Deactivate account").click()
    expect(page.get_by_text("Account carl.clinician deactivated.")).to_be_visible()
    check_page(page)

    # The trail shows each action.
    page.get_by_role("navigation").get_by_role("link", name="Audit trail").click()
    check_page(page)
    table = page.get_by_role("table")
    for action in (
        "password_changed",
        "staff_created",
        "staff_password_reset",
        "staff_deactivated",
        "second_factor_enrolled",
        "login",
    ):
        expect(table.get_by_role("cell", name=action, exact=True).first).to_be_visible()
    page.get_by_label("Action").select_option("staff_deactivated")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("1 event, newest first.")).to_be_visible()
    check_page(page)
    screenshot(page, screenshot_dir, "audit-trail")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
