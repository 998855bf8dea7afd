"""The chart at the chair, by touch, on a 768 x 1024 tablet (issue 15, DESIGN.md §5).

A nurse charts a session as she would at the chair, tapping (Chromium with touch and mobile
emulation). The test fails on any control of the chart or its sub-pages under 44 x 44 CSS px, on
horizontal overflow, on the patient bar out of view while she charts, on a save whose
confirmation is not in view, and on a typed value lost across the idle lock (a second server with
a 12-second idle limit). It counts taps: a full vitals set and the four required checklist items.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.checks import check_page
from tests.browser.conftest import PageProblems, served_with
from tests.browser.journeys import (
    CHECKLIST_ITEMS,
    PatientDetails,
    Staff,
    create_staff_as_admin,
    first_sign_in,
    monitoring_form,
    open_course_for,
    open_session,
    record_administration,
    register_patient,
    sign_in,
    sign_out,
)

PORTRAIT = {"width": 768, "height": 1024}
LANDSCAPE = {"width": 1024, "height": 768}
TOUCH = 44  # CSS px, each way
MAX_VITALS_TAPS = 10
MAX_CHECKLIST_TAPS = 6
# Long enough for a page to load and a few values to be typed; short enough to wait for.
IDLE_MINUTES = 0.2
IDLE_SECONDS = IDLE_MINUTES * 60

NURSE = Staff("amara.osei", "Amara Osei", "RN", "Nurse", "tablet-chair-passphrase-83")
CLINICIAN = Staff("jonas.weber", "Jonas Weber", "MD", "Clinician", "ward-round-passphrase-29")
PATIENT = PatientDetails(
    "T15-0001", "Haraldsen", "Ingrid", allergies="Penicillin (anaphylaxis); latex"
)


@dataclass(frozen=True)
class Ward:
    session_id: int
    patient_id: int


@pytest.fixture(scope="module")
def ward(browser: Any, live_server: Any) -> Iterator[Ward]:
    """Set up through the UI: the staff, the patient, an IV session with its administration."""
    context = browser.new_context(viewport=PORTRAIT)
    page = context.new_page()
    base = live_server.url
    create_staff_as_admin(page, base, NURSE, CLINICIAN, check=False)
    first_sign_in(page, base, NURSE, check=False)
    patient_id = register_patient(page, PATIENT, check=False)
    open_course_for(live_server, patient_id, CLINICIAN)
    session_id = open_session(page, CLINICIAN, NURSE, check=False)
    record_administration(page, dose="0.5", dose_unit="mg/kg", rate="36", rate_unit="mg/h")
    sign_out(page)
    context.close()
    yield Ward(session_id, patient_id)


@pytest.fixture
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": PORTRAIT, "has_touch": True, "is_mobile": True}


# --- what is measured ---------------------------------------------------------------------------

# Every control, measured by what a finger hits: a radio drawn as a button (or a check box) by
# its label. Controls not drawn (a closed dialog, a hidden column, a collapsed <details>) are
# skipped, so callers open what is folded before measuring.
SMALL_TARGETS = """(least) => {
  const controls = document.querySelectorAll(
    'a[href], button, input:not([type=hidden]), select, textarea, summary');
  const small = [];
  for (const control of controls) {
    if (control.matches('.visually-hidden-focusable:not(:focus)')) continue;
    let target = control;
    if (control.matches('input[type=radio], input[type=checkbox]') && control.labels.length) {
      target = control.labels[0];
    }
    const box = target.getBoundingClientRect();
    if (!box.width && !box.height) continue;  // not drawn
    if (box.width < least || box.height < least) {
      const name = (target.innerText || target.value || target.name || target.id || '').trim();
      small.push(`${control.tagName.toLowerCase()} "${name.slice(0, 40)}" ` +
                 `${Math.round(box.width)}x${Math.round(box.height)}`);
    }
  }
  return small;
}"""

OVERFLOW = """() => {
  const root = document.scrollingElement;
  const wide = [...document.querySelectorAll('.table-responsive, main, main *')]
    .filter((el) => el.matches('.table-responsive') && el.scrollWidth > el.clientWidth + 1)
    .map((el) => `${el.querySelector('table')?.dataset.testid || el.className}: ` +
                 `${el.scrollWidth} px in ${el.clientWidth}`);
  if (root.scrollWidth > window.innerWidth + 1) {
    wide.push(`page: ${root.scrollWidth} px in ${window.innerWidth}`);
  }
  return wide;
}"""

# A time shown in full: neither of its inputs cut short, nor the Now control pushed out of its
# field (into the next one).
CUT_TIMES = """() => [...document.querySelectorAll('.time-control')]
  .filter((control) => control.getClientRects().length)
  .flatMap((control) => {
    const row = control.querySelector('.time-control-inputs');
    const inputs = [...row.querySelectorAll('input')];
    const cut = inputs.filter((input) => input.scrollWidth > input.clientWidth + 1)
      .map((input) => `${input.name}: ${input.scrollWidth} px of text in ${input.clientWidth}`);
    if (row.scrollWidth > row.clientWidth + 1) {
      cut.push(`${inputs[0].name}: ${row.scrollWidth} px of controls in ${row.clientWidth}`);
    }
    return cut;
  })"""

OPEN_ALL_DETAILS = "() => document.querySelectorAll('details').forEach((d) => { d.open = true; })"


def small_targets(page: Page) -> list[str]:
    return page.evaluate(SMALL_TARGETS, TOUCH)


def assert_touch_sized_and_fitting(page: Page, where: str) -> None:
    """Every control at least 44 x 44, nothing wider than the screen, with every fold opened."""
    page.evaluate(OPEN_ALL_DETAILS)
    assert small_targets(page) == [], where
    assert page.evaluate(OVERFLOW) == [], where
    assert page.evaluate(CUT_TIMES) == [], where
    flowsheet_views = page.locator('input[name="flowsheet-view"]')
    for n in range(flowsheet_views.count()):
        page.locator(f'label[for="{flowsheet_views.nth(n).get_attribute("id")}"]').click()
        assert small_targets(page) == [], f"{where}, flowsheet view {n}"
        assert page.evaluate(OVERFLOW) == [], f"{where}, flowsheet view {n}"
    if flowsheet_views.count():
        page.locator('label[for="flowsheet-view-vitals"]').click()


def box(locator: Locator) -> dict[str, float]:
    found = locator.bounding_box()
    assert found, f"{locator} is not drawn"
    return found


def assert_patient_bar_in_view(page: Page) -> None:
    bar = page.get_by_test_id("patient-bar")
    expect(bar).to_be_visible()
    where = box(bar)
    assert where["y"] >= -0.5, f"patient bar scrolled off: top at {where['y']}"
    assert where["y"] + where["height"] <= PORTRAIT["height"] * 0.2, where
    expect(bar.get_by_test_id("allergy-banner")).to_contain_text(PATIENT.allergies)


def assert_in_view(page: Page, locator: Locator, what: str) -> None:
    """Between the bottom of the pinned patient bar and the bottom of the screen, within a
    moment of the save (the page brings it there as it loads)."""
    expect(locator).to_be_visible()
    height = page.viewport_size["height"]
    for _ in range(20):
        top = box(page.get_by_test_id("patient-bar"))
        bar_bottom = top["y"] + top["height"]
        where = box(locator)
        under_bar = where["y"] < bar_bottom - 1
        below = where["y"] + where["height"] > height + 1
        if not under_bar and not below:
            return
        page.wait_for_timeout(50)
    assert not under_bar, f"{what} hidden under the patient bar: {where}"
    assert not below, f"{what} below the screen: {where}"


def assert_save_confirmed(page: Page, message: str | re.Pattern[str], row: bool = True) -> None:
    """The status by the form says so, and the new or changed row is marked, both in view."""
    status = page.get_by_test_id("save-status")
    expect(status).to_have_count(1)
    expect(status).to_contain_text(message)
    assert_in_view(page, status, "the save's status")
    if row:
        marked = page.locator(".just-saved")
        expect(marked).to_have_count(1)
        assert_in_view(page, marked, "the row saved")
    assert_patient_bar_in_view(page)


class Taps:
    """Taps on the touch screen, counted; the digits typed on its keypad are not."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.count = 0

    def tap(self, target: Locator) -> None:
        self.count += 1
        target.tap()

    def type(self, text: str) -> None:
        self.page.keyboard.type(text)


def tap_vitals_set(page: Page, taps: Taps, values: dict[str, str]) -> None:
    """BP, HR, SpO2, RR, sedation and dissociation, then Save, as a nurse taps them."""
    form = monitoring_form(page)
    for label, key in (
        ("BP systolic", "systolic"),
        ("BP diastolic", "diastolic"),
        ("HR /min", "hr"),
        ("SpO₂ %", "spo2"),
        ("RR /min", "rr"),
    ):
        taps.tap(form.get_by_label(label, exact=True))
        taps.type(values[key])
    taps.tap(form.get_by_role("group", name="Sedation (MOAA/S)").get_by_text(values["sedation"]))
    taps.tap(form.get_by_role("group", name="Dissociation").get_by_text(values["dissociation"]))
    taps.tap(form.get_by_role("button", name="Save"))


def vitals_rows(page: Page) -> Locator:
    return page.get_by_test_id("flowsheet").locator("tr[data-kind=monitoring]")


# --- the nurse at the chair ---------------------------------------------------------------------


def test_a_session_charted_by_touch_fits_the_tablet_and_confirms_each_save(
    page: Page, live_server: Any, ward: Ward, problems: Any, screenshot_dir: Any, capsys: Any
) -> None:
    base = live_server.url
    assert sign_in(page, base, NURSE.username, NURSE.password, check=False)
    chart = f"{base}/sessions/{ward.session_id}"
    page.goto(chart)
    check_page(page)
    assert_patient_bar_in_view(page)
    assert_touch_sized_and_fitting(page, "chart, no vitals yet")
    page.goto(chart)

    # Twelve sets of vitals by touch, each confirmed by the form with its row in view.
    for n in range(12):
        rows = vitals_rows(page).count()
        taps = Taps(page)
        tap_vitals_set(
            page,
            taps,
            {
                "systolic": str(118 + n),
                "diastolic": str(76 + n % 5),
                "hr": str(70 + n),
                "spo2": "98",
                "rr": "14",
                "sedation": "4" if n % 3 else "5",
                "dissociation": "Mild" if n % 2 else "None",
            },
        )
        expect(vitals_rows(page)).to_have_count(rows + 1)
        expect(vitals_rows(page).last).to_contain_text(f"{118 + n}/{76 + n % 5}")
        assert_save_confirmed(page, "Saved: vitals at")
        # Ready for the next set: the first field empty, the cursor in it.
        systolic = monitoring_form(page).get_by_label("BP systolic")
        expect(systolic).to_be_focused()
        expect(systolic).to_have_value("")
        if n == 0:
            with capsys.disabled():
                print(
                    f"\nTaps for a full vitals set (BP, HR, SpO2, RR, sedation, "
                    f"dissociation, Save): {taps.count}, plus the digits typed"
                )
            assert taps.count <= MAX_VITALS_TAPS
    page.screenshot(path=str(screenshot_dir / "chart-touch-portrait.png"))
    # The flowsheet reads on one line per row, the newest last, just above the form.
    heights = vitals_rows(page).evaluate_all(
        "rows => rows.map(row => row.getBoundingClientRect().height)"
    )
    assert max(heights) < 1.5 * min(heights) and max(heights) <= TOUCH + 2, heights
    assert_touch_sized_and_fitting(page, "chart, twelve sets of vitals")
    page.goto(chart)
    check_page(page)

    # A rate change (Post/Redirect/Get): confirmed by its form, its row marked in the flowsheet.
    event = page.locator(".event-card form")
    event.get_by_label("Event").select_option(label="Rate changed")
    event.get_by_label("New rate").fill("30")
    event.get_by_label("Rate unit").select_option(label="mg/h")
    with page.expect_navigation():
        event.get_by_role("button", name="Add event").tap()
    assert_save_confirmed(page, "Rate changed recorded.")

    # Pain, charted in one place: one tap on the score, one on when.
    pain = page.locator("#pain-form")
    pain.get_by_role("group", name=re.compile("^Pain")).get_by_text("3", exact=True).tap()
    pain.get_by_text("After the session").tap()
    pain.get_by_role("button", name="Save pain score").tap()
    assert_save_confirmed(page, "Pain score recorded: 3/10.")

    # The four required checklist items, in place, counted.
    taps = Taps(page)
    section = page.get_by_role("region", name="Discharge checklist")
    for label in CHECKLIST_ITEMS:
        item = section.locator("li.checklist-item").filter(has=page.get_by_text(label, exact=True))
        if label == "Designated driver confirmed":
            taps.tap(item.get_by_label("Driver's name"))
            taps.type("Sven Haraldsen")
        taps.tap(item.get_by_role("button", name=f"Done: {label}"))
        expect(item.get_by_test_id("checklist-state")).to_contain_text("Done")
        assert_save_confirmed(page, f"Checklist: {label} recorded.")
    with capsys.disabled():
        print(f"Taps for the four required checklist items: {taps.count}")
    assert taps.count <= MAX_CHECKLIST_TAPS
    expect(page.get_by_test_id("checklist-driver_confirmed")).to_contain_text("Sven Haraldsen")

    # A void: its reason reachable on the flowsheet's second view, the row confirmed in view.
    page.locator('label[for="flowsheet-view-record"]').tap()
    first = vitals_rows(page).first
    with page.expect_navigation():
        first.get_by_role("link", name="Void…").tap()
    expect(page).to_have_url(re.compile(r"/void/monitoring/\d+$"))
    check_page(page)
    assert_touch_sized_and_fitting(page, "void page")
    page.get_by_label("Reason for voiding").fill("Cuff on the wrong arm")
    with page.expect_navigation():
        page.get_by_role("button", name="Void entry").tap()
    assert_save_confirmed(page, "Entry voided.")
    voided = page.locator("tr.just-saved")
    expect(voided).to_have_class(re.compile(r"\bvoided\b"))
    expect(voided.get_by_text("Cuff on the wrong arm")).to_be_visible()

    # The sub-pages are touch-sized too. (Dosing has started: the chart no longer offers the
    # PHQ-9, which is taken before dosing, so its page is opened by its address.)
    page.goto(f"{chart}/scores/phq9")
    check_page(page)
    assert_touch_sized_and_fitting(page, "PHQ-9 page")
    page.goto(f"{base}/sessions/new?patient={ward.patient_id}")
    check_page(page)
    assert_touch_sized_and_fitting(page, "new session page")

    # Landscape: the same chart, the vitals form on one screen under the patient bar.
    page.set_viewport_size(LANDSCAPE)
    page.goto(chart)
    check_page(page)
    assert_touch_sized_and_fitting(page, "chart, landscape")
    page.goto(chart)
    form = monitoring_form(page)
    expect(form.get_by_label("BP systolic")).to_be_focused()
    bar = box(page.get_by_test_id("patient-bar"))
    assert box(form)["height"] <= LANDSCAPE["height"] - bar["height"]
    tap_vitals_set(
        page,
        Taps(page),
        {
            "systolic": "121",
            "diastolic": "78",
            "hr": "72",
            "spo2": "99",
            "rr": "13",
            "sedation": "5",
            "dissociation": "None",
        },
    )
    assert_save_confirmed(page, "Saved: vitals at")
    expect(form.get_by_role("button", name="Save")).to_be_in_viewport()
    page.screenshot(path=str(screenshot_dir / "chart-touch-landscape.png"))


# --- the idle lock ------------------------------------------------------------------------------


@pytest.fixture
def short_idle(live_server: Any) -> Iterator[str]:
    """The same app on the same database, its idle limit shortened to a few seconds."""
    with served_with(live_server, {"IDLE_TIMEOUT_MINUTES": IDLE_MINUTES}) as url:
        yield url


def typed_values(form: Locator) -> dict[str, str]:
    return {
        "systolic": form.get_by_label("BP systolic").input_value(),
        "hr": form.get_by_label("HR /min").input_value(),
        "note": form.get_by_label("Note").input_value(),
        "sedation": form.locator('input[name="sedation_moaas"]:checked').input_value(),
    }


def sign_out_elsewhere(page: Page, base: str) -> None:
    """Sign out in another tab of the same browser: the server ends the session for every tab."""
    other = page.context.new_page()
    other.goto(f"{base}/")
    other.get_by_role("button", name="Sign out").click()
    expect(other).to_have_url(re.compile(r"/login"))
    other.close()


def unlock(page: Page, password: str) -> None:
    lock = page.locator("#session-lock")
    lock.get_by_label("Password").fill(password)
    lock.get_by_role("button", name="Unlock").tap()
    expect(lock).to_be_hidden()


def test_the_idle_lock_keeps_what_was_typed_and_sends_a_pending_save_once(
    page: Page, short_idle: str, ward: Ward, screenshot_dir: Any
) -> None:
    problems = PageProblems(urlsplit(short_idle).netloc)
    problems.watch(page)
    assert sign_in(page, short_idle, NURSE.username, NURSE.password, check=False)
    chart = f"{short_idle}/sessions/{ward.session_id}"
    page.goto(chart)
    form = monitoring_form(page)
    lock = page.locator("#session-lock")
    warning = page.locator("#idle-warning")

    # Typed, then left: a warning first, then the page locks in place.
    form.get_by_label("BP systolic").fill("131")
    form.get_by_label("HR /min").fill("77")
    form.get_by_role("group", name="Sedation (MOAA/S)").get_by_text("3", exact=True).tap()
    form.get_by_label("Note").fill("Typed before the lock")
    typed = typed_values(form)
    expect(warning).to_be_visible(timeout=IDLE_SECONDS * 1000)
    expect(lock).to_be_hidden()
    expect(lock).to_be_visible(timeout=IDLE_SECONDS * 1000)
    expect(warning).to_be_hidden()
    check_page(page)
    page.screenshot(path=str(screenshot_dir / "chart-locked.png"))
    # Nothing of what was typed went to browser storage; it is still in the page.
    assert page.evaluate("() => localStorage.length + sessionStorage.length") == 0
    assert typed_values(form) == typed
    # The server's limit ended the session too: a request now is sent to the sign-in page.
    page.wait_for_timeout(2000)
    answer = page.request.get(chart, max_redirects=0)
    assert answer.status == 302 and "/login" in answer.headers["location"]

    # A wrong password keeps it locked; the right one unlocks it, the typing intact.
    lock.get_by_label("Password").fill("not-the-password-at-all")
    lock.get_by_role("button", name="Unlock").tap()
    expect(lock.get_by_role("alert")).to_contain_text("Sign-in failed")
    expect(lock).to_be_visible()
    unlock(page, NURSE.password)
    assert typed_values(form) == typed
    rows = vitals_rows(page).count()
    form.get_by_role("button", name="Save").tap()
    expect(vitals_rows(page)).to_have_count(rows + 1)
    expect(vitals_rows(page).filter(has_text="Typed before the lock")).to_have_count(1)
    assert_save_confirmed(page, "Saved: vitals at")

    # Activity, not a timer, keeps the session: a tap on the warning, and no lock after it.
    form.get_by_label("Note").fill("Kept by a tap")
    expect(warning).to_be_visible(timeout=IDLE_SECONDS * 1000)
    warning.get_by_role("button", name="Keep me signed in").tap()
    expect(warning).to_be_hidden()
    page.wait_for_timeout(int(IDLE_SECONDS * 1000 * 0.6))
    expect(lock).to_be_hidden()
    form.get_by_label("Note").fill("")

    # The session ended behind the page's back (here: signed out in another tab, which ends it on
    # the server; clearing the cookie alone would race a keep-alive answer still in flight that
    # sets it again): the save pressed locks the page, and goes through once after signing in.
    sign_out_elsewhere(page, short_idle)
    rows = vitals_rows(page).count()
    form.get_by_label("BP systolic").fill("142")
    form.get_by_label("Note").fill("Pressed while signed out")
    form.get_by_role("button", name="Save").tap()
    expect(lock).to_be_visible()
    unlock(page, NURSE.password)
    expect(vitals_rows(page)).to_have_count(rows + 1)
    expect(vitals_rows(page).filter(has_text="Pressed while signed out")).to_have_count(1)
    assert_save_confirmed(page, "Saved: vitals at")

    # Signed out, the sign-in page leads back to the chart.
    sign_out_elsewhere(page, short_idle)
    page.goto(chart)
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("Username").fill(NURSE.username)
    page.get_by_label("Password", exact=True).fill(NURSE.password)
    page.get_by_role("button", name="Sign in").tap()
    expect(page).to_have_url(chart)
    problems.assert_clean()
