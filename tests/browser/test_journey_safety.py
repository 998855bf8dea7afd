"""Journey (issue 14): safety around the dose on a 768x1024 tablet. A screening with a no-go
baseline BP and the clinician's override; an intranasal esketamine session with its T+40
checkpoint; an emergence reaction with midazolam; the discharge refused before 120 minutes and
accepted after; the patient's handout printed. Screenshots in docs/screenshots/."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from clinic.administration_terms import Method, Route
from clinic.auth.models import User
from clinic.extensions import db
from clinic.orders.models import OrderKind
from clinic.orders.services import OrderDetails, write_order
from clinic.patients.courses.models import Protocol
from clinic.patients.courses.services import CourseDetails, clinic_today, open_course
from clinic.patients.models import Indication
from tests.browser.checks import check_page, screenshot
from tests.browser.journeys import (
    TEMPORARY_PASSWORD,
    PatientDetails,
    Staff,
    choose,
    create_staff_as_admin,
    fill_time,
    fill_vitals,
    first_sign_in,
    monitoring_form,
    on_live_database,
    open_session,
    register_patient,
    sign_in,
    sign_out,
)

TABLET = {"width": 768, "height": 1024}
CLINIC_ZONE = ZoneInfo("America/New_York")  # the live server's CLINIC_TIMEZONE

NURSE = Staff("lotte.brandt", "Lotte Brandt", "RN", "Nurse", "screening-passphrase-83")
CLINICIAN = Staff("karim.nasser", "Karim Nasser", "MD", "Clinician", "override-passphrase-29")
PATIENT = PatientDetails("J14-0001", "Halvorsen", "Sigrid")


@pytest.fixture
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": TABLET, "has_touch": True}


def clinic_time(moment: datetime) -> str:
    return moment.astimezone(CLINIC_ZONE).strftime("%Y-%m-%dT%H:%M")


def esketamine_orders(live: Any, patient_id: int) -> None:
    """The clinician's course and signed orders (a set-up step, as tests/browser/journeys.py
    `open_course_for` does): esketamine 56 mg by nasal spray, and midazolam 2 mg IV PRN for an
    emergence reaction."""
    with on_live_database(live):
        actor = db.session.scalar(sa.select(User).where(User.username == CLINICIAN.username))
        course = open_course(
            actor,
            patient_id,
            CourseDetails(
                indication=Indication.DEPRESSION,
                protocol=Protocol.INDUCTION,
                protocol_name="Esketamine induction",
                planned_sessions=8,
                start_date=clinic_today() - timedelta(days=14),
            ),
            None,
        )
        course_id = course.entry.id
        for order in (
            OrderDetails(
                kind=OrderKind.TREATMENT,
                drug="Esketamine",
                dose_amount=Decimal("56"),
                dose_unit="mg",
                route=Route.INTRANASAL,
                method=Method.SPRAY,
                rate_or_duration="two devices, 5 minutes apart",
            ),
            OrderDetails(
                kind=OrderKind.PRN,
                drug="Midazolam",
                dose_amount=Decimal("2"),
                dose_unit="mg",
                route=Route.IV,
                method=Method.INJECTION,
                indication="emergence reaction",
            ),
        ):
            write_order(actor, patient_id, order, TEMPORARY_PASSWORD, None, course_id=course_id)
        db.session.commit()


def give(
    page: Page,
    order: str,
    method: str,
    dose: str,
    when: str,
    event: str = "",
    route: str = "Intranasal (IN)",
) -> None:
    card = page.locator("details", has=page.get_by_text("Record an administration"))
    if card.get_attribute("open") is None:
        card.get_by_text("Record an administration").click()
    select = card.get_by_label("Order carried out")
    value = select.locator("option", has_text=order).first.get_attribute("value")
    select.select_option(value=value)
    card.get_by_label("Drug", exact=True).fill(order)
    card.get_by_label("Route").select_option(label=route)
    card.get_by_label("Method").select_option(label=method)
    card.get_by_label("Dose", exact=True).fill(dose)
    card.get_by_label("Dose unit").select_option(label="mg")
    fill_time(card.get_by_role("group", name="Start"), when)
    if event:
        card.get_by_label("For adverse event (rescue medicine, optional)").select_option(index=1)
    card.get_by_role("button", name="Record administration").click()


def vitals_at(page: Page, when: str, **values: str) -> None:
    rows = page.get_by_test_id("flowsheet").locator("tr[data-kind=monitoring]")
    before = rows.count()
    fill_vitals(page, **values)
    fill_time(monitoring_form(page).get_by_role("group", name="Time"), when)
    monitoring_form(page).get_by_role("button", name="Save").click()
    expect(rows).to_have_count(before + 1)


def discharge_at(page: Page, when: str) -> None:
    section = page.get_by_role("region", name="Discharge", exact=True)
    fill_time(section.get_by_role("group", name="Discharge time"), when)
    section.get_by_label("Left with (driver's name)").fill("Erik Halvorsen")
    section.get_by_role("button", name="Record discharge").click()


def test_screening_esketamine_adverse_event_and_discharge_on_a_tablet(
    page: Page, browser, live_server, problems, screenshot_dir
) -> None:
    base = live_server.url
    admin_page = browser.new_page()
    create_staff_as_admin(admin_page, base, NURSE, CLINICIAN, check=False)
    admin_page.close()

    first_sign_in(page, base, NURSE, check=False)
    patient_id = register_patient(page, PATIENT, check=False)
    esketamine_orders(live_server, patient_id)

    start = datetime.now(CLINIC_ZONE).replace(second=0, microsecond=0) - timedelta(minutes=150)
    t_zero = start + timedelta(minutes=5)
    session_id = open_session(
        page, CLINICIAN, NURSE, route="Intranasal (IN)", started=clinic_time(start), check=False
    )
    chart = f"{base}/sessions/{session_id}"
    expect(page.get_by_test_id("session-route")).to_have_text("Intranasal (IN)")

    # Baseline BP 172/104 before dosing, then the screening: a no-go, with its reason.
    vitals_at(page, clinic_time(start + timedelta(minutes=2)), systolic="172", diastolic="104")
    # Not screened yet: the form is open.
    form = page.locator("#screening-form")
    choose(form.get_by_role("group", name="Pregnancy"), "Not applicable")
    choose(form.get_by_role("group", name="Alcohol or drugs in the last 24 h"), "No")
    choose(form.get_by_role("group", name="Suicidality screen positive"), "No")
    choose(form.get_by_role("group", name="Escort present"), "Yes")
    form.get_by_label("Escort's name").fill("Erik Halvorsen")
    form.get_by_label("Relationship").fill("Husband")
    form.get_by_label("Escort's phone").fill("555-0142")
    form.get_by_role("button", name="Save screening").click()
    outcome = page.get_by_test_id("screening-outcome")
    expect(outcome).to_have_attribute("data-outcome", "no_go")
    expect(outcome).to_contain_text("Baseline systolic BP at or above 160")
    expect(page.get_by_test_id("screening-needs-override")).to_be_visible()
    check_page(page)
    screenshot(page, screenshot_dir, "screening-no-go")

    # The first treatment waits for the clinician.
    give(page, "Esketamine", "Spray", "56", clinic_time(t_zero))
    expect(page.locator("#administration-order_id-error")).to_contain_text(
        "the first treatment waits for a clinician's override"
    )
    screenshot(page, screenshot_dir, "screening-holds-treatment")
    sign_out(page)

    first_sign_in(page, base, CLINICIAN, check=False)
    page.goto(chart)
    page.get_by_label("Clinician's override: reason for going ahead").fill(
        "Repeat BP 152/94 after rest; benefit outweighs the risk"
    )
    page.get_by_role("button", name="Override and go ahead").click()
    expect(page.get_by_test_id("screening-override")).to_contain_text("Karim Nasser")
    sign_out(page)

    assert sign_in(page, base, NURSE.username, NURSE.password, check=False)
    page.goto(chart)
    give(page, "Esketamine", "Spray", "56", clinic_time(t_zero))
    expect(page.get_by_text("Administration recorded.")).to_be_visible()

    # The T+40 checkpoint: due, then done by the BP at T+42.
    vitals_at(page, clinic_time(t_zero + timedelta(minutes=42)), systolic="150", diastolic="92")
    checkpoint = page.get_by_test_id("checkpoint").filter(has_text="BP at T+40")
    expect(checkpoint).to_have_attribute("data-status", "done")
    expect(page.get_by_test_id("observation-end")).to_contain_text(
        clinic_time(t_zero + timedelta(minutes=120)).split("T")[1]
    )
    check_page(page)
    screenshot(page, screenshot_dir, "route-checkpoints")

    # An emergence reaction at T+20 and midazolam given for it: T+0 stays the esketamine's.
    page.get_by_text("Record an adverse event").click()
    event_form = page.locator("#adverse-event-form")
    fill_time(
        event_form.get_by_role("group", name="Onset"), clinic_time(t_zero + timedelta(minutes=20))
    )
    event_form.get_by_label("Type").select_option(label="Emergence reaction")
    choose(event_form.get_by_role("group", name="Severity"), "Moderate")
    event_form.get_by_label("Medication").check()
    event_form.get_by_role("button", name="Record adverse event").click()
    expect(page.get_by_text("Adverse event recorded.")).to_be_visible()
    give(
        page,
        "Midazolam",
        "Injection",
        "2",
        clinic_time(t_zero + timedelta(minutes=22)),
        "yes",
        "Intravenous (IV)",
    )
    expect(page.get_by_text("Administration recorded.")).to_be_visible()
    expect(page.get_by_test_id("rescue-medicines")).to_contain_text("Rescue: Midazolam 2 mg")
    expect(page.get_by_text(re.compile(r"first treatment administration \("))).to_contain_text(
        clinic_time(t_zero).split("T")[1]
    )
    check_page(page)
    screenshot(page, screenshot_dir, "adverse-event-rescue")

    # Discharge at T+105: refused, the minimum is 120 minutes after the last treatment.
    discharge_at(page, clinic_time(t_zero + timedelta(minutes=105)))
    expect(page.get_by_text(re.compile("Too early: the route needs 120 minutes"))).to_be_visible()
    screenshot(page, screenshot_dir, "discharge-refused-early")

    # Readiness: every Aldrete item, the escort from the screening, the instructions given.
    page.get_by_text("Assess discharge readiness").click()
    assessment = page.locator("#assessment-form")
    for group, label in (
        ("Activity", "moves 4 limbs"),
        ("Respiration", "breathes deeply, coughs"),
        ("Circulation (BP vs pre-dose)", "within 20 %"),
        ("Consciousness", "fully awake"),
        ("SpO₂", "> 92 % on room air"),
    ):
        assessment.get_by_role("group", name=group).locator("label").filter(has_text=label).click()
    choose(
        assessment.get_by_role(
            "group", name="Escort from the screening present to take the patient home"
        ),
        "Confirmed",
    )
    assessment.get_by_label("Instructions given").select_option(index=1)
    assessment.get_by_role("button", name="Save assessment").click()
    expect(page.get_by_test_id("aldrete-total")).to_contain_text("10")

    discharge_at(page, clinic_time(t_zero + timedelta(minutes=125)))
    expect(page.get_by_text("Discharge recorded.")).to_be_visible()
    check_page(page)
    screenshot(page, screenshot_dir, "discharge-ready")

    page.get_by_test_id("handout-link").click()
    expect(page.get_by_test_id("instruction-version")).to_contain_text("version 1")
    check_page(page)
    screenshot(page, screenshot_dir, "handout")
    problems.assert_clean()
