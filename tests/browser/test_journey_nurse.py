"""Journey 2: a nurse at the chair, on a tablet, charts an IV session from start to discharge."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.checks import check_page, screenshot
from tests.browser.journeys import (
    PatientDetails,
    Staff,
    chosen,
    complete_checklist,
    create_staff_as_admin,
    fill_vitals,
    first_sign_in,
    monitoring_form,
    open_course_for,
    open_session,
    record_administration,
    record_pain,
    record_phq9,
    record_vitals,
    register_patient,
)

TABLET = {"width": 768, "height": 1024}
MAX_VITALS_ACTIONS = 10

NURSE = Staff("nadia.okafor", "Nadia Okafor", "RN", "Nurse", "chair-side-passphrase-31")
CLINICIAN = Staff("priya.raman", "Priya Raman", "MD", "Clinician", "attending-passphrase-47")
PATIENT = PatientDetails("J2-0001", "Lindqvist", "Maren")


@pytest.fixture
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": TABLET, "has_touch": True}


class CountedActions:
    """The keyboard and taps of a fast nurse, counted: each tap, Tab, Enter and arrow key.

    The digits of the values themselves are typed through `type` and not counted.
    """

    def __init__(self, page: Page) -> None:
        self.page = page
        self.log: list[str] = []

    @property
    def count(self) -> int:
        return len(self.log)

    def type(self, text: str) -> None:
        self.page.keyboard.type(text)

    def press(self, key: str) -> None:
        self.log.append(key)
        self.page.keyboard.press(key)

    def tap(self, target: Locator) -> None:
        self.log.append("tap")
        target.click()


def record_full_vitals_set_by_keyboard(page: Page) -> CountedActions:
    """BP, HR, SpO2, RR, sedation and dissociation from the chart page, the way a nurse types."""
    form = monitoring_form(page)
    # The chart comes back with the cursor already in the first vitals field.
    expect(form.get_by_label("BP systolic")).to_be_focused()
    actions = CountedActions(page)
    actions.type("124")
    actions.press("Tab")
    actions.type("78")
    actions.press("Tab")
    actions.type("71")
    actions.press("Tab")
    actions.type("98")
    actions.press("Tab")
    actions.type("14")
    # A scale is a radio group: Tab enters it on its choice ("Not assessed"), arrows move on.
    actions.press("Tab")
    sedation = form.get_by_role("group", name="Sedation (MOAA/S)")
    expect(sedation.locator("input:focus")).to_have_count(1)
    actions.press("ArrowRight")
    actions.press("Tab")
    dissociation = form.get_by_role("group", name="Dissociation")
    expect(dissociation.locator("input:focus")).to_have_count(1)
    actions.press("ArrowRight")
    actions.press("ArrowRight")
    expect(chosen(sedation)).to_have_value("5")
    expect(chosen(dissociation)).to_have_value("mild")
    actions.tap(form.get_by_role("button", name="Save"))
    return actions


def test_nurse_charts_an_iv_session_at_the_chair(
    page: Page, browser, live_server, problems, screenshot_dir, capsys
) -> None:
    base = live_server.url
    admin_page = browser.new_page()
    create_staff_as_admin(admin_page, base, NURSE, CLINICIAN)
    admin_page.close()

    first_sign_in(page, base, NURSE)
    expect(page.get_by_role("heading", name="Today", exact=True)).to_be_visible()
    check_page(page)

    patient_id = register_patient(page, PATIENT)
    open_course_for(live_server, patient_id, CLINICIAN)
    expect(page.get_by_text("Patient registered.")).to_be_visible()
    check_page(page)

    session_id = open_session(page, CLINICIAN, NURSE)
    expect(page.get_by_test_id("session-route")).to_have_text("Intravenous (IV)")
    expect(page.get_by_test_id("session-status")).to_have_text("In progress")
    check_page(page)

    # Baseline vitals before dosing; the form's phase says so by itself.
    expect(chosen(monitoring_form(page).get_by_role("group", name="Phase"))).to_have_value(
        "baseline"
    )
    record_vitals(
        page,
        systolic="126",
        diastolic="80",
        hr="74",
        spo2="98",
        rr="14",
        sedation="5 · readily to name",
        dissociation="None",
    )

    # The PHQ-9 asks about the last two weeks: taken once, before dosing.
    record_phq9(page, [2, 2, 1, 2, 1, 1, 2, 1, 0])

    # The clinician orders 0.5 mg/kg over 40 minutes, run at 36 mg/h: entered as stated.
    record_administration(page, dose="0.5", dose_unit="mg/kg", rate="36", rate_unit="mg/h")
    administrations = page.get_by_test_id("administrations")
    expect(administrations.get_by_test_id("dose")).to_have_text("0.5 mg/kg")
    expect(administrations).to_contain_text("36 mg/h")
    check_page(page)

    # A full set of vitals by keyboard, counted; Enter saves and the next empty form is focused.
    page.goto(f"{base}/sessions/{session_id}")
    actions = record_full_vitals_set_by_keyboard(page)
    rows = page.get_by_test_id("flowsheet").locator("tr[data-kind=monitoring]")
    expect(rows).to_have_count(2)
    expect(rows.last).to_contain_text("124/78")
    expect(rows.last).to_contain_text("mild")
    expect(monitoring_form(page).get_by_label("BP systolic")).to_be_focused()
    expect(monitoring_form(page).get_by_label("BP systolic")).to_have_value("")
    # The page's script follows the untouched time: saved as "now", whatever the shown clock.
    expect(monitoring_form(page).locator('input[name="time_edited"]')).to_have_value("false")
    with capsys.disabled():
        print(
            f"\nActions to record one full vitals set: {actions.count} ({', '.join(actions.log)})"
        )
    assert actions.count <= MAX_VITALS_ACTIONS, actions.log
    check_page(page)

    # An implausible SpO2 is refused next to its field; every other typed value stays.
    fill_vitals(
        page,
        systolic="118",
        diastolic="76",
        hr="88",
        spo2="30",
        rr="16",
        dissociation="Moderate",
        note="Feels floaty",
    )
    monitoring_form(page).get_by_role("button", name="Save").click()
    form = monitoring_form(page)
    spo2 = form.get_by_label("SpO₂ %")
    expect(spo2).to_have_attribute("aria-invalid", "true")
    expect(spo2).to_be_focused()
    error = page.locator(f"#{spo2.get_attribute('aria-describedby')}")
    expect(error).to_have_text("Not plausible: enter a value from 50 to 100.")
    expect(form.get_by_role("alert").first).to_contain_text("Nothing was saved.")
    for label, value in (
        ("BP systolic", "118"),
        ("BP diastolic", "76"),
        ("HR /min", "88"),
        ("SpO₂ %", "30"),
        ("RR /min", "16"),
        ("Note", "Feels floaty"),
    ):
        expect(form.get_by_label(label, exact=True)).to_have_value(value)
    expect(chosen(form.get_by_role("group", name="Dissociation"))).to_have_value("moderate")
    expect(rows).to_have_count(2)
    check_page(page)
    screenshot(page, screenshot_dir, "monitoring-refused")
    spo2.fill("96")
    form.get_by_role("button", name="Save").click()
    expect(rows).to_have_count(3)

    record_vitals(
        page,
        systolic="132",
        diastolic="84",
        hr="92",
        spo2="97",
        rr="15",
        sedation="4 · lethargic to name",
        dissociation="Mild",
    )
    record_vitals(
        page,
        systolic="122",
        diastolic="79",
        hr="76",
        spo2="98",
        rr="14",
        sedation="5 · readily to name",
        dissociation="None",
        note="Typed on the wrong chair",
    )
    expect(rows).to_have_count(5)
    check_page(page)

    # Pain after dosing, then the discharge checklist.
    record_pain(page, "3")
    check_page(page)
    complete_checklist(page, driver="Erik Lindqvist")
    expect(page.get_by_test_id("checklist-driver_confirmed")).to_contain_text("Erik Lindqvist")
    check_page(page)

    # Void the entry typed on the wrong chair: it stays, struck through, with who and why. The
    # void controls are on the flowsheet's second view, a tap away.
    page.get_by_text("Phase, pain, note, who, void").click()
    wrong = rows.filter(has_text="Typed on the wrong chair")
    wrong.get_by_role("link", name="Void…").click()
    expect(page.get_by_test_id("void-entry-summary")).to_contain_text("Typed on the wrong chair")
    check_page(page)
    page.get_by_label("Reason for voiding").fill("Entered for the wrong patient")
    page.get_by_role("button", name="Void entry").click()
    expect(
        page.get_by_text("Entry voided. It stays on the record, struck through.")
    ).to_be_visible()
    wrong = rows.filter(has_text="Typed on the wrong chair")
    expect(wrong).to_have_class(re.compile(r"\bvoided\b"))
    expect(wrong).to_contain_text("Entered for the wrong patient")
    expect(wrong).to_contain_text(f"Voided by {NURSE.display_name}")
    decoration = wrong.evaluate("row => getComputedStyle(row).textDecorationLine")
    assert "line-through" in decoration
    check_page(page)
    screenshot(page, screenshot_dir, "chart-tablet")

    # Only a clinician signs: the nurse sees that, and no signing control.
    sign_off = page.get_by_role("region", name="Sign-off")
    expect(sign_off.get_by_text("Only a clinician can sign this session.")).to_be_visible()
    expect(sign_off.get_by_role("button", name="Sign session")).to_have_count(0)
    expect(sign_off.get_by_label("Your password")).to_have_count(0)

    page.get_by_role("link", name="← Patient record").click()
    expect(page).to_have_url(re.compile(rf"/patients/{patient_id}$"))
    check_page(page)
