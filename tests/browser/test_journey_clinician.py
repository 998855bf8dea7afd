"""Journey 3: a clinician at a desk reviews the nurse's session, signs it, reads the history."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.browser.checks import check_page, screenshot
from tests.browser.journeys import (
    PatientDetails,
    Staff,
    authenticator_code,
    complete_checklist,
    create_staff_as_admin,
    first_sign_in,
    monitoring_form,
    open_course_for,
    open_session,
    record_administration,
    record_discharge,
    record_pain,
    record_phq9,
    record_vitals,
    register_patient,
    sign_out,
)

DESKTOP = {"width": 1366, "height": 900}
CLINIC_ZONE = ZoneInfo("America/New_York")  # the live server's CLINIC_TIMEZONE

NURSE = Staff("tomas.becker", "Tomas Becker", "RN", "Nurse", "infusion-bay-passphrase-58")
CLINICIAN = Staff("elena.marsh", "Elena Marsh", "MD", "Clinician", "review-desk-passphrase-62")
PATIENT = PatientDetails("J3-0001", "Okonkwo", "Adaeze", indication="Fibromyalgia")


@dataclass(frozen=True)
class Charted:
    patient_id: int
    session_id: int


def _clinic_time(moment: datetime) -> str:
    return moment.astimezone(CLINIC_ZONE).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture(scope="module")
def charted(browser: Any, live_server: Any) -> Iterator[Charted]:
    """Set up through the UI as people would: the admin creates the staff, the nurse registers
    the patient and charts last week's session (scores, discharge) and today's (administration,
    vitals, scores, checklist), leaving today's for the clinician to sign."""
    base = live_server.url
    context = browser.new_context(viewport={"width": 768, "height": 1024})
    page = context.new_page()
    create_staff_as_admin(page, base, NURSE, CLINICIAN, check=False)
    first_sign_in(page, base, NURSE, check=False)
    patient_id = register_patient(page, PATIENT, check=False)
    open_course_for(live_server, patient_id, CLINICIAN)

    week_ago = datetime.now(CLINIC_ZONE).replace(hour=10, minute=0) - timedelta(days=7)
    open_session(page, CLINICIAN, NURSE, started=_clinic_time(week_ago), check=False)
    record_phq9(page, [2, 2, 2, 2, 1, 2, 1, 1, 0], when=_clinic_time(week_ago))
    record_pain(page, "7", timing="Before the session", when=_clinic_time(week_ago))
    record_discharge(page, "Chidi Okonkwo", when=_clinic_time(week_ago + timedelta(hours=2)))
    # The correction form shows the recorded time: the page's script must leave it alone, or a
    # corrected driver's name would move the discharge to the time of the correction.
    discharge = page.get_by_role("region", name="Discharge", exact=True)
    expect(discharge.locator('input[name="time_edited"]')).to_have_value("")
    left = _clinic_time(week_ago + timedelta(hours=2))
    discharge_time = discharge.get_by_role("group", name="Discharge time")
    expect(discharge_time.get_by_label("Date", exact=True)).to_have_value(left.split("T")[0])
    expect(discharge_time.get_by_label("Time, 24-hour (HH:MM)")).to_have_value(left.split("T")[1])

    page.get_by_role("link", name="← Patient record").click()
    session_id = open_session(page, CLINICIAN, NURSE, check=False)
    record_vitals(
        page,
        systolic="128",
        diastolic="82",
        hr="76",
        spo2="98",
        rr="14",
        sedation="5 · readily to name",
        dissociation="None",
    )
    # The PHQ-9 asks about the last two weeks: taken before dosing.
    record_phq9(page, [1, 1, 1, 1, 1, 1, 0, 1, 0])
    record_administration(page, dose="0.5", dose_unit="mg/kg", rate="35", rate_unit="mg/h")
    record_vitals(
        page,
        systolic="138",
        diastolic="88",
        hr="94",
        spo2="97",
        rr="16",
        sedation="4 · lethargic to name",
        dissociation="Moderate",
    )
    record_vitals(
        page,
        systolic="124",
        diastolic="80",
        hr="78",
        spo2="98",
        rr="14",
        sedation="5 · readily to name",
        dissociation="Mild",
    )
    record_pain(page, "4", timing="After the session")
    complete_checklist(page, driver="Chidi Okonkwo")
    sign_out(page)
    context.close()
    yield Charted(patient_id, session_id)


@pytest.fixture
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": DESKTOP, "accept_downloads": True}


def test_clinician_reviews_signs_and_reads_the_history(
    page: Page, charted: Charted, live_server, problems, screenshot_dir
) -> None:
    base = live_server.url
    first_sign_in(page, base, CLINICIAN)
    expect(page.get_by_role("heading", name="Today", exact=True)).to_be_visible()
    check_page(page)

    # Today's board: the nurse's session, in progress, with its nurse.
    board = page.get_by_test_id("board-today")
    row = board.get_by_role("row").filter(has_text=PATIENT.display_name)
    expect(row).to_have_count(1)
    expect(row).to_contain_text(NURSE.display_name)
    expect(row).to_contain_text("In progress")
    row.get_by_role("link", name=PATIENT.display_name).click()
    expect(page).to_have_url(re.compile(rf"/sessions/{charted.session_id}$"))
    check_page(page)

    # Review: the administration as entered, the flowsheet, scores, checklist, nothing missing.
    expect(page.get_by_test_id("allergy-banner").first).to_contain_text(PATIENT.allergies)
    expect(page.get_by_test_id("administrations").get_by_test_id("dose")).to_have_text("0.5 mg/kg")
    flowsheet = page.get_by_test_id("flowsheet")
    expect(flowsheet.locator("tr[data-kind=monitoring]")).to_have_count(3)
    expect(flowsheet).to_contain_text("138/88")
    expect(page.get_by_test_id("scores")).to_contain_text("PHQ-9")
    expect(page.get_by_test_id("checklist-driver_confirmed")).to_contain_text("Chidi Okonkwo")
    expect(page.get_by_test_id("sign-problems")).to_have_count(0)
    page.get_by_role("region", name="Monitoring").screenshot(
        path=str(screenshot_dir / "flowsheet.png")
    )

    # Sign with the password and the authenticator's code re-entered.
    sign_off = page.get_by_role("region", name="Sign-off")
    expect(sign_off).to_contain_text(f"Signing as {CLINICIAN.display_name}")
    sign_off.get_by_label("Your password").fill(CLINICIAN.password)
    sign_off.get_by_label("Code from your authenticator app").fill(
        authenticator_code(CLINICIAN.username)
    )
    sign_off.get_by_role("button", name="Sign session").click()
    expect(page.get_by_text("Session signed and locked.")).to_be_visible()
    check_page(page)

    # Locked: no entry form, no void control; the signature and its check are shown.
    expect(page.get_by_test_id("session-status")).to_have_text("Signed")
    expect(monitoring_form(page)).to_have_count(0)
    expect(page.get_by_text("Record an administration")).to_have_count(0)
    expect(page.get_by_role("button", name="Save pain score")).to_have_count(0)
    expect(page.get_by_role("link", name="Void…")).to_have_count(0)
    signature = page.get_by_test_id("signature")
    expect(signature).to_contain_text("Reviewed and signed")
    expect(signature).to_contain_text(CLINICIAN.display_name)
    expect(signature.get_by_test_id("signature-match")).to_contain_text("Record matches signature")
    screenshot(page, screenshot_dir, "signed-chart")

    # The one change a signed session takes: an addendum.
    addenda = page.get_by_role("region", name="Addenda")
    addenda.get_by_label("Addendum").fill("Transient hypertension at T+20 min settled unaided.")
    addenda.get_by_label("Reason").fill("Clinical note after review")
    addenda.get_by_role("button", name="Add addendum").click()
    expect(page.get_by_text("Addendum added.")).to_be_visible()
    expect(page.get_by_role("region", name="Addenda")).to_contain_text(
        "Transient hypertension at T+20 min settled unaided."
    )
    expect(page.get_by_test_id("signature-match")).to_be_visible()
    check_page(page)

    # The patient's history: both sessions, the trends drawn as SVG.
    page.get_by_role("link", name="← Patient record").click()
    expect(page).to_have_url(re.compile(rf"/patients/{charted.patient_id}$"))
    check_page(page)
    rows = page.get_by_test_id("session-row")
    expect(rows).to_have_count(2)
    expect(rows.first.get_by_test_id("signature")).to_contain_text(CLINICIAN.full_name)
    phq9 = page.get_by_role("img", name="PHQ-9 across sessions")
    expect(phq9).to_be_visible()
    assert phq9.evaluate("el => el.tagName.toLowerCase()") == "svg"
    expect(page.get_by_role("img", name="Pain NRS across sessions")).to_be_visible()
    screenshot(page, screenshot_dir, "patient-record-two-sessions")

    # The FHIR export, downloaded from the patient's page.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download FHIR export").click()
    download = download_info.value
    assert download.suggested_filename == f"patient-{charted.patient_id}.fhir.json"
    bundle = json.loads(download.path().read_text(encoding="utf-8"))
    assert bundle["resourceType"] == "Bundle"
    kinds = {entry["resource"]["resourceType"] for entry in bundle["entry"]}
    assert "Patient" in kinds
