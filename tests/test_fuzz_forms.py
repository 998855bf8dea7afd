"""Hypothesis posts hostile values into every form of the app, with CSRF on, as a permitted user.

Issue 6, "Fuzzed input": no answer is a 5xx, nothing implausible is stored, and HTML comes back
escaped. Each form starts from what its page offers (so many examples pass validation and do
store) with any of its fields replaced by a generated value: huge, empty, unicode, negative,
NaN/Infinity, "1e309", SQL and HTML fragments, out-of-range dates, several values for one field.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.client import parse_forms
from clinic.auth.models import Role, User
from clinic.auth.services import find_user_by_username
from clinic.extensions import db
from clinic.orders.models import MedicationOrder
from clinic.patients.models import Patient
from clinic.request_bounds import control_character_in
from clinic.sessions.models import (
    Administration,
    InfusionSession,
    Instrument,
    MonitoringEntry,
    Score,
)
from tests.conftest import PASSWORD
from tests.factories import make_ready_to_sign, open_session_for, seed_chart_records, sign
from tests.second_factor_codes import fresh_code

SCRIPT = "<script>alert(1)</script>"
NASTY = [
    "",
    " ",
    "0",
    "-1",
    "-0",
    "1.5",
    "39",
    "301",
    "99999999999999999999",
    "NaN",
    "nan",
    "Infinity",
    "-Infinity",
    "1e309",
    "1E3",
    "0x10",
    "½",
    "٣",  # an Arabic-Indic digit, which int() would accept
    SCRIPT,
    '"><img src=x onerror=alert(1)>',
    "' OR 1=1 --",
    "'; DROP TABLE patient; --",
    "0001-01-01",
    "9999-12-31",
    "0001-01-01T00:00",
    "9999-12-31T23:59",
    "2024-02-30T25:61",
    "\x00",
    "a\x00b",
    "\u202eevil",
    "Ünïcödé ✓ 患者 \U0001f600",
    "x" * 10_000,
    "9" * 5_000,
    "None",
    "true",
]
value = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=30),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
FUZZ = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,  # the same examples on every run: a CI failure reproduces locally
)


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"WTF_CSRF_ENABLED": True}


@dataclass
class Clinic:
    users: dict[str, User]
    records: dict[str, int]


@pytest.fixture
def clinic(app: Any, make_user: Callable[..., User]) -> Clinic:
    users = {
        "nurse": make_user(Role.NURSE),
        "clinician": make_user(Role.CLINICIAN),
        "admin": make_user(Role.ADMIN),
        "staff_member": make_user(Role.NURSE),
    }
    records = seed_chart_records(users["nurse"], users["clinician"])
    patient = db.session.get(Patient, records["patient"])
    to_cancel = open_session_for(patient, users["nurse"], users["clinician"])
    signed = open_session_for(patient, users["nurse"], users["clinician"])
    make_ready_to_sign(signed, users["clinician"])
    sign(signed, users["clinician"], PASSWORD)
    records |= {
        "to_cancel": to_cancel.id,
        "signed": signed.id,
        "staff_member": users["staff_member"].id,
    }
    return Clinic(users, records)


# form -> (who posts it, the page that shows it, the URL it posts to); {names} from the records.
FORMS: dict[str, tuple[str | None, str, str]] = {
    "login": (None, "/login", "/login"),
    "password": ("nurse", "/password", "/password"),
    "staff_new": ("admin", "/staff/new", "/staff/new"),
    "staff_edit": ("admin", "/staff/{staff_member}", "/staff/{staff_member}"),
    "staff_reset": ("admin", "/staff/{staff_member}", "/staff/{staff_member}/password"),
    "patients_new": ("nurse", "/patients/new", "/patients/new"),
    "patients_edit": ("nurse", "/patients/{patient}/edit", "/patients/{patient}/edit"),
    "sessions_new": ("nurse", "/sessions/new?patient={patient}", "/sessions/new?patient={patient}"),
    "administration": ("clinician", "/sessions/{session}", "/sessions/{session}/administrations"),
    "infusion_event": (
        "nurse",
        "/sessions/{session}",
        "/sessions/{session}/administrations/{administration}/events",
    ),
    "monitoring": ("nurse", "/sessions/{session}", "/sessions/{session}/monitoring"),
    "end": ("nurse", "/sessions/{session}", "/sessions/{session}/end"),
    "phq9": ("nurse", "/sessions/{session}/scores/phq9", "/sessions/{session}/scores/phq9"),
    "pain": ("nurse", "/sessions/{session}", "/sessions/{session}/scores/pain"),
    "checklist": ("nurse", "/sessions/{session}", "/sessions/{session}/checklist/{checklist_item}"),
    "cancel": ("nurse", "/sessions/{to_cancel}", "/sessions/{to_cancel}/cancel"),
    "void": (
        "nurse",
        "/sessions/{session}/void/monitoring/{monitoring_entry}",
        "/sessions/{session}/void/monitoring/{monitoring_entry}",
    ),
    "sign": ("clinician", "/sessions/{session}", "/sessions/{session}/sign"),
    "addendum": ("nurse", "/sessions/{signed}", "/sessions/{signed}/addenda"),
    "consent": ("nurse", "/patients/{patient}/consents/new", "/patients/{patient}/consents/new"),
    "consent_withdraw": (
        "nurse",
        "/patients/{patient}/consents",
        "/patients/{patient}/consents/{consent}/withdraw",
    ),
    "course": ("clinician", "/patients/{patient}/courses/new", "/patients/{patient}/courses/new"),
    "course_review": (
        "clinician",
        "/patients/{patient}/courses/{course}/reviews",
        "/patients/{patient}/courses/{course}/reviews",
    ),
    "course_end": (
        "clinician",
        "/patients/{patient}/courses/{course}/end",
        "/patients/{patient}/courses/{course}/end",
    ),
    "order": ("clinician", "/orders/new?course={course}", "/orders/new?course={course}"),
    "order_discontinue": ("clinician", "/orders/{order}", "/orders/{order}/discontinue"),
    "session_order": (
        "clinician",
        "/sessions/{session}/orders/new",
        "/sessions/{session}/orders/new",
    ),
}


def _form_fields(client: FlaskClient, page: str, action: str) -> dict[str, str]:
    response = client.get(page)
    assert response.status_code == 200, (page, response.status_code)
    for form in parse_forms(response.get_data(as_text=True)):
        # A form without an action posts to its own page.
        if (form.action.split("#")[0] or page) == action:
            has_token = any(name.endswith("csrf_token") and v for name, v in form.fields.items())
            assert has_token, f"no CSRF token in the form posting to {action}"
            return form.fields
    raise AssertionError(f"{page} has no form posting to {action}")


# Each instrument's own range (REFERENCE.md "Scales"): a pain score of 12 is not plausible because
# a PHQ-9 total may reach 27.
SCORE_RANGES = {Instrument.PHQ9: (0, 27), Instrument.PAIN_NRS: (0, 10)}


def _assert_nothing_invalid_stored() -> None:
    db.session.rollback()  # read what the requests committed, not a stale snapshot
    ranges = {
        "systolic_bp": (40, 300),
        "diastolic_bp": (20, 200),
        "heart_rate": (20, 250),
        "spo2": (50, 100),
        "respiratory_rate": (2, 60),
        "pain_nrs": (0, 10),
        "sedation_moaas": (0, 5),
    }
    for entry in db.session.scalars(sa.select(MonitoringEntry)):
        for name, (low, high) in ranges.items():
            number = getattr(entry, name)
            assert number is None or low <= number <= high, (name, number)
        if entry.temperature_c is not None:
            assert entry.temperature_c.is_finite() and 30 <= entry.temperature_c <= 45
        if entry.systolic_bp and entry.diastolic_bp:
            assert entry.diastolic_bp < entry.systolic_bp
    for administration in db.session.scalars(sa.select(Administration)):
        for amount in (
            administration.dose_amount,
            administration.rate_amount,
            administration.volume_ml,
        ):
            assert amount is None or (amount.is_finite() and amount > 0), amount
    for amount in db.session.scalars(sa.select(MedicationOrder.dose_amount)):
        assert amount.is_finite() and amount > 0, amount
    for score in db.session.scalars(sa.select(Score)):
        low, high = SCORE_RANGES[score.instrument]
        assert low <= score.total <= high, (score.instrument, score.total)
    today = date.today()
    for patient in db.session.scalars(sa.select(Patient)):
        assert patient.date_of_birth <= today + timedelta(days=1), patient.date_of_birth
        assert patient.date_of_birth.year >= 1900, patient.date_of_birth
    for weight in db.session.scalars(sa.select(InfusionSession.weight_kg)):
        assert weight is None or (weight.is_finite() and 0 < weight < 1000), weight
    # No text holds a control character (tab and line breaks aside, which text areas keep).
    for mapper in db.Model.registry.mappers:
        texts = [c for c in mapper.columns if isinstance(c.type, sa.String) and c.table is not None]
        for column in texts:
            for text in db.session.scalars(sa.select(column).where(column.is_not(None))):
                assert not control_character_in(text, multiline=True), (column, text)


@pytest.mark.parametrize("form_name", sorted(FORMS))
def test_fuzzed_form_input_never_errors_stores_nothing_invalid_and_is_escaped(
    form_name: str, client: FlaskClient, clinic: Clinic
) -> None:
    role, page, action = FORMS[form_name]
    page, action = page.format(**clinic.records), action.format(**clinic.records)
    if role:
        _login_with_csrf(client, clinic.users[role].username)
    fields = _form_fields(client, page, action)
    names = sorted(name for name in fields if not name.endswith("csrf_token"))
    assert names, f"the form posting to {action} has no fields"

    @FUZZ
    @given(
        changes=st.dictionaries(
            st.sampled_from(names), st.one_of(value, st.lists(value, min_size=2, max_size=3))
        )
    )
    def post(changes: dict[str, Any]) -> None:
        response = client.post(action, data={**fields, **changes})
        body = response.get_data(as_text=True)
        assert response.status_code < 500, (changes, body[-2000:])
        assert SCRIPT not in body, changes
        _assert_nothing_invalid_stored()

    post()


def _login_with_csrf(client: FlaskClient, username: str) -> None:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert token, "no CSRF token on the sign-in page"
    response = client.post(
        "/login", data={"csrf_token": token.group(1), "username": username, "password": PASSWORD}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[-1000:]
    if response.location.startswith("/login/code"):  # the second factor's step
        page = client.get(response.location).get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        assert token, "no CSRF token on the code page"
        code = fresh_code(find_user_by_username(username))
        response = client.post(response.location, data={"csrf_token": token.group(1), "code": code})
        assert response.status_code == 302, response.get_data(as_text=True)[-1000:]


def _assert_refused_with_a_message(response: Any) -> None:
    body = response.get_data(as_text=True)
    assert response.status_code in (400, 422), response.status_code
    assert re.search(r"character", body, re.I), body[-2000:]  # says what was wrong


def test_nul_byte_in_text_is_refused_with_a_message_and_nothing_stored_on_every_database(
    client: FlaskClient, clinic: Clinic
) -> None:
    """PostgreSQL cannot store NUL in text (a 500, then a 400 from errors.py); SQLite stored it.
    Every text field now refuses it next to the field (clinic/request_bounds.py), on both.

    Each form is otherwise valid, so the NUL byte is the only reason left to refuse it.
    """
    _login_with_csrf(client, clinic.users["nurse"].username)
    action = f"/sessions/{clinic.records['session']}/monitoring"
    fields = _form_fields(client, f"/sessions/{clinic.records['session']}", action)
    entries_before = db.session.scalar(sa.select(sa.func.count()).select_from(MonitoringEntry))
    response = client.post(action, data={**fields, "heart_rate": "72", "note": "a\x00b"})
    _assert_refused_with_a_message(response)
    db.session.rollback()
    entries = db.session.scalar(sa.select(sa.func.count()).select_from(MonitoringEntry))
    assert entries == entries_before

    action = "/patients/new"
    fields = _form_fields(client, action, action)
    patient = {
        "mrn": "NUL-1",
        "family_name": "Doe\x00",
        "given_name": "Jane",
        "date_of_birth": "1980-04-12",
        "sex": "female",
        "indication": "depression",
    }
    response = client.post(action, data={**fields, **patient})
    _assert_refused_with_a_message(response)
    db.session.rollback()
    assert db.session.scalar(sa.select(Patient).where(Patient.mrn == "NUL-1")) is None
    _assert_nothing_invalid_stored()
