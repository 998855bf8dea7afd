"""The clinician's view of a patient with 30 sessions: timeline, trends, filters; screenshot.

Seeded with `flask seed-demo` (written through the services, audited and signed like real
sessions) since charting 30 sessions through the browser would take minutes.
"""

from __future__ import annotations

import re
import time

import pyotp
from playwright.sync_api import Page, expect

from tests.browser import journeys
from tests.browser.checks import check_page, screenshot
from tests.browser.journeys import AUTHENTICATORS, sign_in

DEMO_PASSWORD = "demo-passphrase-for-screens-1"


def test_clinician_reads_a_30_session_history_with_trends(
    page: Page, live_server, problems, screenshot_dir
) -> None:
    seeded = live_server.flask("seed-demo", "--sessions", "30", "--password", DEMO_PASSWORD)
    patient_id = re.search(r"Demo patient (\d+)", seeded.stdout).group(1)
    base = live_server.url
    page.set_viewport_size({"width": 1440, "height": 1000})

    # The demo clinician signs in with the authenticator key seed-demo printed.
    key = re.search(r"Authenticator key of demo\.clinician: (\w+)", seeded.stdout).group(1)
    AUTHENTICATORS["demo.clinician"] = key
    # seed-demo's enrolments spent this 30-second step's code.
    journeys._LAST_STEP["demo.clinician"] = pyotp.TOTP(key).timecode(time.time())
    assert sign_in(page, base, "demo.clinician", DEMO_PASSWORD, check=False)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.goto(f"{base}/patients/{patient_id}")
    check_page(page)

    rows = page.get_by_test_id("session-row")
    expect(rows).to_have_count(25)
    expect(page.get_by_text("Page 1 of 2")).to_be_visible()
    expect(page.get_by_role("img", name="PHQ-9 across sessions")).to_be_visible()
    expect(page.get_by_role("img", name="Pain NRS across sessions")).to_be_visible()
    expect(page.get_by_test_id("allergy-banner")).to_contain_text("Sulfonamides")
    screenshot(page, screenshot_dir, "patient-history")

    # The filters narrow the list without JavaScript: a plain GET form.
    page.get_by_label("Signature").select_option("unsigned")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first.get_by_test_id("signature")).to_contain_text("Not signed")
    check_page(page)

    page.get_by_role("link", name="Clear").click()
    page.get_by_role("link", name="Older").click()
    expect(rows).to_have_count(5)
    check_page(page)
