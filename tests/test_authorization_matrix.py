"""Every route of the URL map, as each kind of person, against DESIGN.md §2 and §5 kept as data.

One row per endpoint: what anonymous, a nurse, a clinician, an admin and a deactivated user (an
old cookie of a nurse since deactivated) get. A route without a row fails the test, so a new route
cannot ship without someone deciding who may use it.

Outcomes:
- "ok": served (2xx, a redirect elsewhere than the sign-in page, or the form refused on its
  content: 409/422), never 403, never 5xx;
- "login": redirected to the sign-in page;
- "403": refused for the role;
- "signed_out": redirected to the sign-in page and the cookie no longer works (logout).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, url_for
from flask.testing import FlaskClient

from clinic.auth.models import Role, User
from clinic.extensions import db
from clinic.staff.services import set_active
from tests.conftest import PASSWORD, login
from tests.factories import seed_chart_records
from tests.register_factories import seed_register

PRINCIPALS = ("anonymous", "nurse", "clinician", "admin", "deactivated")
CLINICAL = ("login", "ok", "ok", "403", "login")
CLINICIAN_ONLY = ("login", "403", "ok", "403", "login")
ADMIN_ONLY = ("login", "403", "403", "ok", "login")
EVERY_ROLE = ("login", "ok", "ok", "ok", "login")
PUBLIC = ("ok", "ok", "ok", "ok", "ok")
# The second step of a sign-in serves only a sign-in whose password was right in that browser:
# anyone else goes to the sign-in page, and whoever is signed in to the home page.
SECOND_STEP = ("login", "ok", "ok", "ok", "login")

# endpoint -> (URL arguments: a seeded record by name, or "=" and a literal; outcome per principal)
MATRIX: dict[str, tuple[dict[str, str], tuple[str, ...]]] = {
    "static": ({"filename": "=favicon.svg"}, PUBLIC),
    "bootstrap.static": ({"filename": "=css/bootstrap.min.css"}, PUBLIC),
    "main.healthz": ({}, PUBLIC),
    "auth.login": ({}, PUBLIC),
    "auth.unlock": ({}, PUBLIC),
    "second_factor.code": ({}, SECOND_STEP),
    "second_factor.enrol": ({}, SECOND_STEP),
    "main.index": ({}, EVERY_ROLE),
    "auth.change_password": ({}, EVERY_ROLE),
    "auth.ping": ({}, EVERY_ROLE),
    "auth.logout": ({}, ("login", "signed_out", "signed_out", "signed_out", "login")),
    "audit.index": ({}, ADMIN_ONLY),
    "staff.index": ({}, ADMIN_ONLY),
    "staff.new": ({}, ADMIN_ONLY),
    "staff.detail": ({"user_id": "staff_member"}, ADMIN_ONLY),
    "staff.reset_password": ({"user_id": "staff_member"}, ADMIN_ONLY),
    "staff.deactivate": ({"user_id": "staff_member"}, ADMIN_ONLY),
    "staff.reactivate": ({"user_id": "staff_member"}, ADMIN_ONLY),
    "staff.clear_sign_in_holds": ({"user_id": "staff_member"}, ADMIN_ONLY),
    "staff.reset_second_factor": ({"user_id": "staff_member"}, ADMIN_ONLY),
    "patients.index": ({}, CLINICAL),
    "patients.new": ({}, CLINICAL),
    "review.history_page": ({"patient_id": "patient"}, CLINICAL),
    "patients.edit": ({"patient_id": "patient"}, CLINICAL),
    "consents.index": ({"patient_id": "patient"}, CLINICAL),
    "consents.new": ({"patient_id": "patient"}, CLINICAL),
    "consents.withdraw": ({"patient_id": "patient", "consent_id": "consent"}, CLINICAL),
    # Courses are opened, reviewed and ended by clinicians; nurses read them (§2).
    "courses.new": ({"patient_id": "patient"}, CLINICIAN_ONLY),
    "courses.review": ({"patient_id": "patient", "course_id": "course"}, CLINICIAN_ONLY),
    "courses.end": ({"patient_id": "patient", "course_id": "course"}, CLINICIAN_ONLY),
    "review.course_page": ({"patient_id": "patient", "course_id": "course"}, CLINICAL),
    # Orders: clinicians write, supersede and discontinue them; nurses read (§2, §5).
    "orders.course_orders": ({"course_id": "course"}, CLINICAL),
    "orders.detail": ({"order_id": "order"}, CLINICAL),
    "orders.new": ({"course": "course"}, CLINICIAN_ONLY),
    "orders.supersede": ({"order_id": "order"}, CLINICIAN_ONLY),
    "orders.discontinue": ({"order_id": "order"}, CLINICIAN_ONLY),
    "sessions.new_session_order": ({"session_id": "session"}, CLINICIAN_ONLY),
    "sessions.acknowledge": (
        {"session_id": "session", "administration_id": "administration"},
        CLINICIAN_ONLY,
    ),
    "review.export_fhir": ({"patient_id": "patient"}, CLINICIAN_ONLY),
    "review.export_csv": ({"patient_id": "patient"}, CLINICIAN_ONLY),
    "sessions.new": ({"patient": "patient"}, CLINICAL),
    "sessions.chart": ({"session_id": "session"}, CLINICAL),
    "sessions.print_record": ({"session_id": "session"}, CLINICAL),
    "sessions.add_administration": ({"session_id": "session"}, CLINICAL),
    "sessions.add_infusion_event": (
        {"session_id": "session", "administration_id": "administration"},
        CLINICAL,
    ),
    "sessions.add_monitoring": ({"session_id": "session"}, CLINICAL),
    "sessions.end": ({"session_id": "session"}, CLINICAL),
    "sessions.record_screening": ({"session_id": "session"}, CLINICAL),
    "sessions.add_adverse_event": ({"session_id": "session"}, CLINICAL),
    "sessions.assess_discharge": ({"session_id": "session"}, CLINICAL),
    "sessions.handout": ({"session_id": "session"}, CLINICAL),
    "sessions.resolve_adverse_event": (
        {"session_id": "session", "event_id": "=1"},
        CLINICAL,
    ),
    "sessions.override_screening": ({"session_id": "session"}, CLINICIAN_ONLY),
    "sessions.add_phq9": ({"session_id": "session"}, CLINICAL),
    "sessions.add_pain": ({"session_id": "session"}, CLINICAL),
    "sessions.add_score": ({"session_id": "session", "code": "=gad7"}, CLINICAL),
    "sessions.rems_form": ({"session_id": "session"}, CLINICAL),
    "instruments.index": ({}, CLINICIAN_ONLY),
    "instruments.new": ({}, CLINICIAN_ONLY),
    "sessions.rems_ready": ({"session_id": "session"}, CLINICAL),
    "sessions.rems_submitted": ({"session_id": "session"}, CLINICAL),
    "sessions.record_checklist": ({"session_id": "session", "item_id": "checklist_item"}, CLINICAL),
    "sessions.cancel": ({"session_id": "session"}, CLINICAL),
    "sessions.void": (
        {"session_id": "session", "kind": "=monitoring", "entry_id": "monitoring_entry"},
        CLINICAL,
    ),
    # Signing is the clinician's alone (§2); everyone else, the nurse included, is refused.
    "sessions.sign": ({"session_id": "session"}, CLINICIAN_ONLY),
    "sessions.add_addendum": ({"session_id": "session"}, CLINICAL),
    # The controlled-substance register: nurses and clinicians keep it; a count's discrepancy is
    # resolved by a clinician (§2). Admins see none of it.
    "register.index": ({}, CLINICAL),
    "register.receive": ({}, CLINICAL),
    "register.lot": ({"lot_id": "register_lot"}, CLINICAL),
    "register.record_movement": ({"lot_id": "register_lot"}, CLINICAL),
    "register.record_correction": ({"lot_id": "register_lot"}, CLINICAL),
    "register.record_count": ({"lot_id": "register_lot"}, CLINICAL),
    "register.resolve_count": ({"entry_id": "register_count"}, CLINICIAN_ONLY),
    "register.void_entry": ({"entry_id": "register_count"}, CLINICAL),
    "register.report": ({"name": "=dispensing"}, CLINICAL),
    "register.inventory": ({}, CLINICAL),
}


def _seed(make_user: Callable[..., User]) -> tuple[dict[str, User], dict[str, Any]]:
    users = {role.value: make_user(role) for role in (Role.NURSE, Role.CLINICIAN, Role.ADMIN)}
    users["deactivated"] = make_user(Role.NURSE)
    records = seed_chart_records(users["nurse"], users["clinician"])
    records["staff_member"] = make_user(Role.NURSE).id
    records.update(seed_register(users["nurse"], make_user(Role.NURSE)))
    return users, records


def _url(app: Flask, endpoint: str, arguments: dict[str, str], records: dict[str, Any]) -> str:
    values = {
        name: source[1:] if source.startswith("=") else records[source]
        for name, source in arguments.items()
    }
    with app.test_request_context():
        return url_for(endpoint, **values)


def _to_login(response: Any) -> bool:
    return response.status_code == 302 and urlsplit(response.location).path == "/login"


def _outcome(response: Any, client: FlaskClient, want: str) -> str:
    status = response.status_code
    if _to_login(response):
        if want != "signed_out":
            return "login"
        # Logging out also lands on the sign-in page: check that it really ended the session.
        return "signed_out" if _to_login(client.get("/")) else "logout did not sign out"
    if status == 403:
        return "403"
    if status < 400 or status in (409, 422):
        return "ok"
    return f"status {status}"


def test_every_route_answers_each_role_as_the_design_says(
    app: Flask, make_user: Callable[..., User]
) -> None:
    rules = {rule.endpoint: rule for rule in app.url_map.iter_rules()}
    missing = sorted(set(rules) - set(MATRIX))
    assert missing == [], f"routes without a row in the authorisation matrix: {missing}"
    assert sorted(set(MATRIX) - set(rules)) == [], "rows for routes that no longer exist"

    users, records = _seed(make_user)
    # The deactivated user signed in before being deactivated: their cookie must stop working.
    old = app.test_client()
    assert login(old, users["deactivated"].username).status_code == 302
    old_cookie = old.get_cookie("clinic_session")
    assert old_cookie is not None
    set_active(users["admin"], users["deactivated"], False)
    db.session.commit()

    def client_for(principal: str) -> FlaskClient:
        client = app.test_client()
        if principal == "deactivated":
            client.set_cookie("clinic_session", old_cookie.value)
        elif principal != "anonymous":
            assert login(client, users[principal].username, PASSWORD).status_code == 302
        return client

    wrong = []
    for endpoint, (arguments, expected) in sorted(MATRIX.items()):
        rule = rules[endpoint]
        url = _url(app, endpoint, arguments, records)
        for principal, want in zip(PRINCIPALS, expected, strict=True):
            client = client_for(principal)
            if "GET" in (rule.methods or ()):
                response = client.get(url)
            else:
                response = client.post(url, data={})
            got = _outcome(response, client, want)
            if got != want:
                wrong.append(f"{endpoint} as {principal}: {got} (expected {want}) {url}")
            # A role refused its page must see no clinical content on the refusal.
            if want == "403":
                assert "Doe" not in response.get_data(as_text=True)
    assert wrong == []
