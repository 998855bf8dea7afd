"""UI steps shared by the journeys: each one a person's actions (labels, button text, roles).

The live server is shared by every browser module of a run, so each module creates the staff it
needs through the admin's pages under its own usernames, and the admin's sign-in works whether
or not journey 1 has already replaced the first password.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pyotp
from playwright.sync_api import Locator, Page, expect

from tests.browser.checks import check_page
from tests.browser.conftest import ADMIN_FIRST_PASSWORD, ADMIN_USERNAME

# Journey 1 changes the admin's first password to this one; the other journeys do the same
# when they are the first to sign in, so the admin ends a run with one known password.
ADMIN_PASSWORD = "a-long-office-passphrase-7"
TEMPORARY_PASSWORD = "temporary-pass-2026"
LOGIN_REFUSED = "Sign-in failed"

# The authenticator app of each account that set one up in this run, as its owner's phone holds
# it: the secret read from the enrolment page, and the last time step whose code was typed. The
# app accepts each code once, so a second sign-in within the same half-minute types the next
# step's code (accepted a step early), and a third waits for the clock.
AUTHENTICATORS: dict[str, str] = {}
_LAST_STEP: dict[str, int] = {}


@dataclass(frozen=True)
class Staff:
    username: str
    full_name: str
    credentials: str
    role: str  # as the staff form shows it: "Nurse", "Clinician"
    password: str

    @property
    def display_name(self) -> str:
        return f"{self.full_name}, {self.credentials}"


@dataclass(frozen=True)
class PatientDetails:
    mrn: str
    family_name: str
    given_name: str
    date_of_birth: str = "1979-04-12"
    sex: str = "Female"
    indication: str = "Depression"
    allergies: str = "Sulfonamides (rash)"

    @property
    def display_name(self) -> str:
        return f"{self.family_name.upper()}, {self.given_name}"


def authenticator_code(username: str) -> str:
    """The code the account's authenticator app shows, one the app has not seen typed yet."""
    totp = pyotp.TOTP(AUTHENTICATORS[username])
    while True:
        now = totp.timecode(time.time())
        step = max(now, _LAST_STEP.get(username, now - 1) + 1)
        if step <= now + 1:
            _LAST_STEP[username] = step
            return totp.generate_otp(step)
        time.sleep(1)


def sign_in(page: Page, base: str, username: str, password: str, *, check: bool = True) -> bool:
    """Sign in from the login page, with the second factor's code where it is asked (setting
    the app up where the sign-in asks that); False when the app refuses the username and
    password."""
    page.goto(f"{base}/login")
    if check:
        check_page(page)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    signed_in = page.get_by_role("button", name="Sign out")
    refused = page.get_by_text(LOGIN_REFUSED)
    code_step = page.get_by_role("heading", name="Sign in: your code")
    enrol_step = page.get_by_role("heading", name="Set up your second factor")
    expect(signed_in.or_(refused).or_(code_step).or_(enrol_step)).to_be_visible()
    if code_step.is_visible():
        enter_code(page, username, check=check)
    elif enrol_step.is_visible():
        set_up_authenticator(page, username, check=check)
    return signed_in.is_visible()


def enter_code(page: Page, username: str, *, check: bool = True) -> None:
    """The second step of a sign-in: the code of the account's authenticator."""
    if check:
        check_page(page)
    page.get_by_label("Code").fill(authenticator_code(username))
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def set_up_authenticator(page: Page, username: str, *, check: bool = True) -> list[str]:
    """The enrolment page: the phone's app takes the key shown (the QR code's content), its
    first code confirms it; then the recovery codes, shown once. Returns them."""
    if check:
        check_page(page)
    expect(page.get_by_role("img", name=re.compile("QR code to add the account"))).to_be_visible()
    key = page.get_by_test_id("second-factor-secret").inner_text()
    AUTHENTICATORS[username] = key.replace(" ", "")
    _LAST_STEP.pop(username, None)
    page.get_by_label("Code from the app").fill(authenticator_code(username))
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="Your second factor is set up")).to_be_visible()
    if check:
        check_page(page)
    codes = page.get_by_test_id("recovery-codes").locator("code").all_inner_texts()
    assert len(codes) == 10
    page.get_by_role("link", name="I have kept them: continue").click()
    expect(page).not_to_have_url(re.compile(r"/login/second-factor"))
    return codes


def change_password_if_needed(page: Page, current: str, new: str, *, check: bool = True) -> None:
    """A first sign-in lands on the password page: choose the new password there."""
    if not re.search(r"/password$", page.url):
        return
    if check:
        check_page(page)
    page.get_by_label("Current password").fill(current)
    page.get_by_label("New password", exact=True).fill(new)
    page.get_by_label("Repeat the new password").fill(new)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Your password is changed.")).to_be_visible()


def sign_in_as_admin(page: Page, base: str, *, check: bool = True) -> None:
    """The admin, whether journey 1 has already changed the first password or not."""
    if not sign_in(page, base, ADMIN_USERNAME, ADMIN_PASSWORD, check=check):
        assert sign_in(page, base, ADMIN_USERNAME, ADMIN_FIRST_PASSWORD, check=False)
        change_password_if_needed(page, ADMIN_FIRST_PASSWORD, ADMIN_PASSWORD, check=check)


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()


def create_staff(page: Page, staff: Staff, *, check: bool = True) -> None:
    """As the admin: a new account with a temporary password, changed at its first sign-in."""
    page.get_by_role("link", name="Staff", exact=True).click()
    page.get_by_role("link", name="New account").click()
    expect(page).to_have_url(re.compile(r"/staff/new$"))
    if check:
        check_page(page)
    page.get_by_label("Username").fill(staff.username)
    page.get_by_label("Full name").fill(staff.full_name)
    page.get_by_label("Credentials").fill(staff.credentials)
    page.get_by_label("Role").select_option(label=staff.role)
    page.get_by_label("Temporary password").fill(TEMPORARY_PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text(f"Account {staff.username} created.")).to_be_visible()


def create_staff_as_admin(page: Page, base: str, *staff: Staff, check: bool = True) -> None:
    sign_in_as_admin(page, base, check=check)
    for person in staff:
        create_staff(page, person, check=check)
    sign_out(page)


def first_sign_in(page: Page, base: str, staff: Staff, *, check: bool = True) -> None:
    """A new member of staff signs in with the temporary password and chooses their own."""
    assert sign_in(page, base, staff.username, TEMPORARY_PASSWORD, check=check)
    expect(page).to_have_url(re.compile(r"/password$"))
    change_password_if_needed(page, TEMPORARY_PASSWORD, staff.password, check=check)


def register_patient(page: Page, patient: PatientDetails, *, check: bool = True) -> int:
    """From any page: Patients → Register patient. Returns the new patient's id."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Patients").click()
    expect(page).to_have_url(re.compile(r"/patients/$"))
    if check:
        check_page(page)
    page.get_by_role("link", name="Register patient").click()
    expect(page).to_have_url(re.compile(r"/patients/new$"))
    if check:
        check_page(page)
    page.get_by_label("MRN").fill(patient.mrn)
    page.get_by_label("Family name").fill(patient.family_name)
    page.get_by_label("Given name").fill(patient.given_name)
    page.get_by_label("Date of birth").fill(patient.date_of_birth)
    page.get_by_label("Sex").select_option(label=patient.sex)
    page.get_by_label("Indication").select_option(label=patient.indication)
    page.get_by_label("Allergies").fill(patient.allergies)
    page.get_by_role("button", name="Register patient").click()
    expect(page).to_have_url(re.compile(r"/patients/\d+$"))
    expect(page.get_by_text(patient.allergies).first).to_be_visible()
    return int(page.url.rsplit("/", 1)[1])


def open_session(
    page: Page,
    attending: Staff,
    nurse: Staff,
    *,
    route: str = "Intravenous (IV)",
    weight_kg: str = "72.5",
    started: str = "",
    check: bool = True,
) -> int:
    """From the patient's page: New session → Open session. Returns the session's id.

    When no current consent covers the route, the form says so next to the route: the consent
    is recorded by the link beside it, and the session opened from the patient's page again."""
    patient_page = page.url
    for attempt in range(2):
        page.get_by_role("link", name="New session").click()
        expect(page).to_have_url(re.compile(r"/sessions/new\?patient=\d+$"))
        if check:
            check_page(page)
        page.get_by_label("Route of administration").select_option(label=route)
        page.get_by_label("Attending clinician").select_option(label=attending.display_name)
        page.get_by_label("Nurse").select_option(label=nurse.display_name)
        page.get_by_label("Weight (kg)").fill(weight_kg)
        if started:  # "YYYY-MM-DDTHH:MM", clinic time; empty means now
            fill_time(page.get_by_role("group", name="Start time"), started)
        page.get_by_label("Fasting (NPO) confirmed").check()
        page.get_by_role("button", name="Open session").click()
        consent_link = page.get_by_role("link", name=re.compile("Record the patient's consent"))
        if attempt or not consent_link.count():
            break
        consent_link.click()
        record_consent(page, signed_on="2020-01-06" if started else "")
        page.goto(patient_page)
    expect(page).to_have_url(re.compile(r"/sessions/\d+"))
    return int(re.search(r"/sessions/(\d+)", page.url).group(1))


def record_consent(page: Page, *, signed_on: str = "", witness: str = "Rita Witness, RN") -> None:
    """On the consent form (its type chosen already when reached from a refused session)."""
    expect(page.get_by_role("heading", name="Record consent")).to_be_visible()
    page.get_by_label("Document title").fill("Consent to ketamine treatment")
    page.get_by_label("Document version").fill("2025-1")
    page.get_by_label("Witnessed by").fill(witness)
    if signed_on:  # today's date unless given
        page.get_by_label("Signed on").fill(signed_on)
    page.get_by_role("button", name="Record consent").click()
    expect(page.get_by_text("Consent recorded.")).to_be_visible()


def record_administration(
    page: Page,
    *,
    method: str = "Infusion",
    dose: str = "0.5",
    dose_unit: str = "mg/kg",
    rate: str = "",
    rate_unit: str = "",
    site: str = "Left antecubital",
    lot: str = "KET-2026-114",
) -> None:
    """On the chart: the administration exactly as the clinician ordered it."""
    card = page.locator("details", has=page.get_by_text("Record an administration"))
    if card.get_attribute("open") is None:
        card.get_by_text("Record an administration").click()
    card.get_by_label("Order carried out").select_option(index=1)
    card.get_by_label("Method").select_option(label=method)
    card.get_by_label("Dose", exact=True).fill(dose)
    card.get_by_label("Dose unit").select_option(label=dose_unit)
    if rate:
        card.get_by_label("Rate (optional)").fill(rate)
        card.get_by_label("Rate unit").select_option(label=rate_unit)
    card.get_by_label("Site").fill(site)
    card.get_by_label("Lot number").fill(lot)
    card.get_by_role("button", name="Record administration").click()
    expect(page.get_by_text("Administration recorded.")).to_be_visible()


def fill_time(group: Locator, when: str) -> None:
    """A charted time ("YYYY-MM-DDTHH:MM", clinic time) typed into its date and 24-hour inputs."""
    date, time = when.split("T")
    group.get_by_label("Date", exact=True).fill(date)
    group.get_by_label("Time, 24-hour (HH:MM)").fill(time)


def choose(group: Locator, label: str) -> None:
    """Tap one button of a one-tap choice (a radio group drawn as buttons) by its label."""
    group.locator("label").get_by_text(label, exact=True).click()


def chosen(group: Locator) -> Locator:
    """The radio of a one-tap choice that is chosen."""
    return group.locator("input[type=radio]:checked")


def monitoring_form(page: Page) -> Locator:
    return page.get_by_role("form", name="New monitoring entry")


VITAL_LABELS = {
    "systolic": "BP systolic",
    "diastolic": "BP diastolic",
    "hr": "HR /min",
    "spo2": "SpO₂ %",
    "rr": "RR /min",
}


def fill_vitals(page: Page, **values: str) -> None:
    """Type values by label (systolic, diastolic, hr, spo2, rr; sedation, dissociation as shown)."""
    form = monitoring_form(page)
    for key, label in VITAL_LABELS.items():
        if key in values:
            form.get_by_label(label, exact=True).fill(values[key])
    if "sedation" in values:
        choose(form.get_by_role("group", name="Sedation (MOAA/S)"), values["sedation"])
    if "dissociation" in values:
        choose(form.get_by_role("group", name="Dissociation"), values["dissociation"])
    if "note" in values:
        form.get_by_label("Note").fill(values["note"])


def record_vitals(page: Page, **values: str) -> None:
    """One monitoring entry through the quick-entry form; back on the chart after saving."""
    rows = page.get_by_test_id("flowsheet").locator("tr[data-kind=monitoring]")
    before = rows.count()
    fill_vitals(page, **values)
    monitoring_form(page).get_by_role("button", name="Save").click()
    expect(rows).to_have_count(before + 1)


def record_pain(page: Page, score: str, timing: str = "After the session", when: str = "") -> None:
    form = page.locator("#pain-form")
    choose(form.get_by_role("group", name="Pain (0 no pain to 10 worst imaginable)"), score)
    choose(form.get_by_role("group", name="When"), timing)
    if when:
        fill_time(form.get_by_role("group", name="Time"), when)
    form.get_by_role("button", name="Save pain score").click()
    expect(page.get_by_text(f"Pain score recorded: {score}/10.")).to_be_visible()


def record_phq9(page: Page, answers: list[int], when: str = "") -> None:
    """The nine items, each answered by its label ("1 · Several days"), then when it was asked:
    once per visit, before dosing (since issue 16 the form asks no "before or after")."""
    page.get_by_role("link", name="Record a PHQ-9…").click()
    check_page(page)
    form = page.locator("#phq9-form")
    labels = {
        0: "Not at all",
        1: "Several days",
        2: "More than half the days",
        3: "Nearly every day",
    }
    groups = form.get_by_role("group")
    for number, answer in enumerate(answers, start=1):
        item = groups.filter(has_text=re.compile(rf"^\s*{number}\. "))
        choose(item, f"{answer} · {labels[answer]}")
    if when:
        fill_time(form.get_by_role("group", name="Time"), when)
    form.get_by_role("button", name="Save PHQ-9").click()
    expect(page.get_by_text(f"PHQ-9 recorded: {sum(answers)} (")).to_be_visible()


CHECKLIST_ITEMS = (
    "Designated driver confirmed",
    "Post-treatment instructions given",
    "Patient alert and oriented",
    "Vital signs near baseline",
)


def complete_checklist(page: Page, driver: str) -> None:
    """Every item done, one tap each; the driver's item with the driver's name first."""
    section = page.get_by_role("region", name="Discharge checklist")
    for label in CHECKLIST_ITEMS:
        item = section.locator("li.checklist-item").filter(has=page.get_by_text(label, exact=True))
        if label == "Designated driver confirmed":
            item.get_by_label("Driver's name").fill(driver)
        item.get_by_role("button", name=f"Done: {label}").click()
        expect(page.get_by_text(f"Checklist: {label} recorded.")).to_be_visible()
        item = section.locator("li.checklist-item").filter(has=page.get_by_text(label, exact=True))
        expect(item.get_by_test_id("checklist-state")).to_contain_text("Done")


def record_discharge(page: Page, driver: str, when: str = "", *, override: str = "") -> None:
    """The discharge; `override` is a clinician's reason to discharge before the route's minimum
    observation (a journey that does not wait the two hours an esketamine session needs)."""
    section = page.get_by_role("region", name="Discharge", exact=True)
    if when:
        fill_time(section.get_by_role("group", name="Discharge time"), when)
    section.get_by_label("Left with (driver's name)").fill(driver)
    if override:
        section.get_by_label(
            "Clinician's override: reason to discharge before the minimum observation"
        ).fill(override)
    section.get_by_role("button", name="Record discharge").click()
    expect(page.get_by_text("Discharge recorded.")).to_be_visible()


@contextmanager
def on_live_database(live: Any) -> Iterator[None]:
    """An app context on the live server's database and keys, for a set-up step taken through
    the services (what a person's earlier decisions left on the record)."""
    from clinic import create_app
    from clinic.extensions import db

    app = create_app(
        {
            "CLINIC_ENV": "development",
            "SQLALCHEMY_DATABASE_URI": live.database_url,
            "SECRET_KEY": live.env["SECRET_KEY"],
            "AUDIT_KEY": live.env["AUDIT_KEY"],
            "CLINIC_TIMEZONE": live.env["CLINIC_TIMEZONE"],
        }
    )
    with app.app_context():
        try:
            yield
        finally:
            db.session.remove()
            db.engine.dispose()


def open_course_for(
    live: Any, patient_id: int, clinician: Staff, password: str = TEMPORARY_PASSWORD
) -> None:
    """An active induction course for the patient with its signed treatment order (ketamine 0.5
    mg/kg IV infusion), written by the clinician through the services on the live server's
    database (with her temporary password unless she chose her own). A set-up step: courses
    and orders are a clinician's decisions, and these journeys follow the nurse who opens the
    session within the course and gives what was ordered (issue 13)."""
    import sqlalchemy as sa

    from clinic.administration_terms import Method, Route
    from clinic.auth.models import User
    from clinic.extensions import db
    from clinic.orders.models import OrderKind
    from clinic.orders.services import OrderDetails, write_order
    from clinic.patients.courses.models import Protocol
    from clinic.patients.courses.services import CourseDetails, clinic_today, open_course
    from clinic.patients.models import Indication

    with on_live_database(live):
        actor = db.session.scalar(sa.select(User).where(User.username == clinician.username))
        details = CourseDetails(
            indication=Indication.DEPRESSION,
            protocol=Protocol.INDUCTION,
            protocol_name="Six IV infusions",
            planned_sessions=6,
            start_date=clinic_today() - timedelta(days=14),
        )
        course = open_course(actor, patient_id, details, None)
        order = OrderDetails(
            kind=OrderKind.TREATMENT,
            drug="Ketamine hydrochloride",
            dose_amount=Decimal("0.5"),
            dose_unit="mg/kg",
            route=Route.IV,
            method=Method.INFUSION,
            rate_or_duration="over 40 minutes",
        )
        course_id = course.entry.id
        write_order(actor, patient_id, order, password, None, course_id=course_id)
        db.session.commit()
