"""Consent as a record (issue 13): recorded, shown in the patient header with its state, withdrawn
with a reason; a session is opened only for a route a current consent covers."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, timedelta
from html import unescape as html_unescape

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from clinic.auth.models import Role, User
from clinic.database import utcnow
from clinic.extensions import db as _db
from clinic.patients.consents.models import Consent, ConsentState
from clinic.patients.consents.services import clinic_today
from clinic.patients.models import Patient
from clinic.sessions.models import InfusionSession, Route
from tests.factories import consent_type_for, give_consent, make_patient, open_course_for
from tests.helpers import audit_actions, input_value, local_text, minute


def count(model: type) -> int:
    return _db.session.scalar(sa.select(sa.func.count()).select_from(model))


def consent_form(route: Route = Route.IV, **values: str) -> dict[str, str]:
    return {
        "consent_type_id": str(consent_type_for(route).id),
        "document_title": "Consent to IV ketamine for depression",
        "document_version": "2025-2",
        "signed_on": clinic_today().isoformat(),
        "witnessed_by": "Rita Witness, RN",
        "valid_until": (clinic_today() + timedelta(days=365)).isoformat(),
        "note": "",
        **values,
    }


def banner(html: str) -> str:
    match = re.search(r'data-testid="consent-banner">(.*?)</div>', html, re.S)
    assert match, "no consent line in the patient header"
    return " ".join(match.group(1).split())


def open_form(nurse: User, clinician: User, route: str = "iv", **values: str) -> dict[str, str]:
    return {
        "indication": "depression",
        "route": route,
        "attending_clinician_id": str(clinician.id),
        "nurse_id": str(nurse.id),
        "started_at": local_text(minute(utcnow()) - timedelta(minutes=5)),
        **values,
    }


@pytest.fixture
def clinician(make_user: Callable[..., User]) -> User:
    return make_user(Role.CLINICIAN, full_name="Dr Consent")


# --- recording ----------------------------------------------------------------------------------


def test_nurse_records_a_consent_and_the_header_shows_it_current(
    client: FlaskClient, login_as: Callable[..., User]
) -> None:
    nurse = login_as(Role.NURSE)
    patient = make_patient()
    assert "none recorded" in banner(client.get(f"/patients/{patient.id}").get_data(as_text=True))

    response = client.post(
        f"/patients/{patient.id}/consents/new", data=consent_form(submission_key="c-1")
    )

    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/patients/{patient.id}/consents")
    consent = _db.session.scalar(sa.select(Consent))
    assert (consent.patient_id, consent.recorded_by_id) == (patient.id, nurse.id)
    assert consent.consent_type.route == Route.IV
    assert consent.document_version == "2025-2"
    assert consent.witnessed_by == "Rita Witness, RN"
    [event] = audit_actions("consent_recorded")
    assert (event.patient_id, event.entity, event.entity_id) == (
        patient.id,
        "consent",
        str(consent.id),
    )
    changes = json.loads(event.changes)
    assert changes["signed_on"] == [None, clinic_today().isoformat()]
    assert changes["document_title"][1] == "Consent to IV ketamine for depression"

    history = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    line = banner(history)
    assert "IV ketamine: current" in line
    listing = client.get(f"/patients/{patient.id}/consents").get_data(as_text=True)
    assert "Consent to IV ketamine for depression, version 2025-2" in listing
    assert "IV ketamine: current" in banner(listing)


def test_a_consent_form_posted_twice_records_one_consent(
    client: FlaskClient, login_as: Callable[..., User]
) -> None:
    login_as(Role.NURSE)
    patient = make_patient()
    form = consent_form(submission_key="same-key")
    assert client.post(f"/patients/{patient.id}/consents/new", data=form).status_code == 302
    assert client.post(f"/patients/{patient.id}/consents/new", data=form).status_code == 302
    assert count(Consent) == 1
    assert len(audit_actions("consent_recorded")) == 1


@pytest.mark.parametrize(
    ("field", "values", "message"),
    [
        (
            "signed_on",
            {"signed_on": (date.today() + timedelta(days=3)).isoformat()},
            "day still to come",
        ),
        (
            "valid_until",
            {"signed_on": "2025-05-01", "valid_until": "2025-04-30"},
            "valid until a day after it was signed",
        ),
        ("witnessed_by", {"witnessed_by": "   "}, "Enter who witnessed the signature."),
        ("document_version", {"document_version": ""}, "Enter the document's version."),
        ("consent_type_id", {"consent_type_id": ""}, "Choose what the consent is for."),
        ("signed_on", {"signed_on": "0001-01-01"}, "Enter a date between"),
    ],
)
def test_a_consent_with_impossible_values_is_refused_next_to_the_field_keeping_input(
    client: FlaskClient,
    login_as: Callable[..., User],
    field: str,
    values: dict[str, str],
    message: str,
) -> None:
    login_as(Role.NURSE)
    patient = make_patient()
    response = client.post(
        f"/patients/{patient.id}/consents/new",
        data=consent_form(document_title="Kept as typed", **values),
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = re.search(rf'id="{field}-error"[^>]*>([^<]*)<', html)
    assert error and message in html_unescape(error.group(1)), html
    assert input_value(html, "document_title") == "Kept as typed"
    assert count(Consent) == 0
    assert audit_actions("consent_recorded") == []


def test_the_service_refuses_a_consent_signed_on_a_day_to_come(app, make_user) -> None:
    from clinic.patients.consents.services import ConsentDetails, ConsentError, record_consent

    nurse = make_user(Role.NURSE)
    patient = make_patient()
    details = ConsentDetails(
        consent_type_for(Route.IV).id, "Consent", "1", clinic_today() + timedelta(days=1), "W"
    )
    with pytest.raises(ConsentError) as refused:
        record_consent(nurse, patient.id, details, None)
    assert refused.value.field == "signed_on"


# --- states -------------------------------------------------------------------------------------


def test_the_header_shows_each_consent_state(
    client: FlaskClient, login_as: Callable[..., User]
) -> None:
    nurse = login_as(Role.NURSE)
    patient = make_patient()
    today = clinic_today()
    give_consent(patient, nurse, Route.IV, valid_until=today + timedelta(days=200))
    give_consent(patient, nurse, Route.IM, valid_until=today + timedelta(days=30))
    give_consent(
        patient,
        nurse,
        Route.INTRANASAL,
        signed_on=today - timedelta(days=400),
        valid_until=today - timedelta(days=1),
    )
    withdrawn = give_consent(patient, nurse, Route.SUBCUTANEOUS)
    response = client.post(
        f"/patients/{patient.id}/consents/{withdrawn.id}/withdraw",
        data={"reason": "Patient declines injections"},
    )
    assert response.status_code == 302

    line = banner(client.get(f"/patients/{patient.id}").get_data(as_text=True))
    assert f"IV ketamine: current (until {(today + timedelta(days=200)).isoformat()})" in line
    assert f"IM ketamine: expiring (until {(today + timedelta(days=30)).isoformat()})" in line
    assert "Intranasal esketamine (REMS enrolment): expired" in line
    assert "Subcutaneous ketamine: withdrawn" in line


def test_a_newer_current_consent_stands_for_its_type_over_an_expired_one(
    client: FlaskClient, login_as: Callable[..., User]
) -> None:
    nurse = login_as(Role.NURSE)
    patient = make_patient()
    today = clinic_today()
    give_consent(
        patient,
        nurse,
        signed_on=today - timedelta(days=800),
        valid_until=today - timedelta(days=435),
    )
    give_consent(patient, nurse, signed_on=today - timedelta(days=10))
    line = banner(client.get(f"/patients/{patient.id}/consents").get_data(as_text=True))
    assert "IV ketamine: current" in line and "expired" not in line


def test_consent_state_boundaries() -> None:
    today = date(2026, 3, 1)

    def consent(**values: object) -> Consent:
        return Consent(signed_on=values.pop("signed_on", date(2026, 1, 1)), **values)

    assert consent().state_on(today) == ConsentState.CURRENT
    assert consent(valid_until=today + timedelta(days=31)).state_on(today) == ConsentState.CURRENT
    assert consent(valid_until=today + timedelta(days=30)).state_on(today) == ConsentState.EXPIRING
    assert consent(valid_until=today).state_on(today) == ConsentState.EXPIRING
    assert consent(valid_until=today - timedelta(days=1)).state_on(today) == ConsentState.EXPIRED
    assert consent(signed_on=today + timedelta(days=1)).state_on(today) == (
        ConsentState.NOT_YET_VALID
    )
    assert consent(withdrawn_at=utcnow()).state_on(today) == ConsentState.WITHDRAWN
    assert [state.covers for state in ConsentState] == [True, True, False, False, False]


# --- withdrawing --------------------------------------------------------------------------------


def test_withdrawing_a_consent_needs_a_reason_and_is_audited(
    client: FlaskClient, login_as: Callable[..., User]
) -> None:
    nurse = login_as(Role.NURSE)
    patient = make_patient()
    consent = give_consent(patient, nurse)
    url = f"/patients/{patient.id}/consents/{consent.id}/withdraw"

    refused = client.post(url, data={"reason": "  "})
    assert refused.status_code == 422
    assert "Say why the consent is withdrawn." in refused.get_data(as_text=True)
    assert _db.session.get(Consent, consent.id).withdrawn_at is None

    assert client.post(url, data={"reason": "Changed her mind"}).status_code == 302
    _db.session.expire_all()
    stored = _db.session.get(Consent, consent.id)
    assert stored.withdrawn_reason == "Changed her mind"
    assert stored.withdrawn_by_id == nurse.id and stored.withdrawn_at is not None
    [event] = audit_actions("consent_withdrawn")
    assert json.loads(event.changes)["withdrawn_reason"] == [None, "Changed her mind"]

    again = client.post(url, data={"reason": "Twice"})
    assert again.status_code == 409
    assert "withdrawn already" in again.get_data(as_text=True)
    assert len(audit_actions("consent_withdrawn")) == 1


def test_withdrawing_another_patients_consent_is_not_found(
    client: FlaskClient, login_as: Callable[..., User]
) -> None:
    nurse = login_as(Role.NURSE)
    consent = give_consent(make_patient(), nurse)
    other = make_patient()
    response = client.post(
        f"/patients/{other.id}/consents/{consent.id}/withdraw", data={"reason": "x"}
    )
    assert response.status_code == 404
    assert _db.session.get(Consent, consent.id).withdrawn_at is None


def test_admin_sees_no_consents(client: FlaskClient, login_as: Callable[..., User]) -> None:
    patient = make_patient()
    login_as(Role.ADMIN)
    assert client.get(f"/patients/{patient.id}/consents").status_code == 403
    response = client.post(f"/patients/{patient.id}/consents/new", data=consent_form())
    assert response.status_code == 403
    assert count(Consent) == 0


# --- opening a session --------------------------------------------------------------------------


def test_a_session_is_refused_without_a_consent_for_its_route(
    client: FlaskClient, login_as: Callable[..., User], clinician: User
) -> None:
    nurse = login_as(Role.NURSE)
    patient = make_patient()
    give_consent(patient, nurse, Route.IM)
    course = open_course_for(patient, clinician)

    response = client.post(
        f"/sessions/new?patient={patient.id}",
        data=open_form(nurse, clinician, weight_kg="71.5", course_id=str(course.id)),
    )

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = re.search(r'id="route-error"[^>]*>([^<]*)<', html)
    assert error and "No current consent covers the Intravenous (IV) route" in error.group(1)
    link = f'href="/patients/{patient.id}/consents/new?route=iv"'
    assert link in html
    assert input_value(html, "weight_kg") == "71.5"
    assert count(InfusionSession) == 0
    assert audit_actions("session_opened") == []

    # The link leads to the consent form with the type covering the route chosen.
    form = client.get(f"/patients/{patient.id}/consents/new?route=iv").get_data(as_text=True)
    chosen = consent_type_for(Route.IV).id
    assert re.search(rf'<option selected value="{chosen}">', form)


@pytest.mark.parametrize(
    "state", ["expired", "withdrawn", "not yet valid on the session's day", "other patient"]
)
def test_a_session_is_refused_under_a_consent_that_is_not_current(
    client: FlaskClient, login_as: Callable[..., User], clinician: User, state: str
) -> None:
    nurse = login_as(Role.NURSE)
    patient = make_patient()
    today = clinic_today()
    if state == "expired":
        give_consent(
            patient, nurse, signed_on=today - timedelta(days=60), valid_until=today - timedelta(1)
        )
    elif state == "withdrawn":
        consent = give_consent(patient, nurse)
        client.post(
            f"/patients/{patient.id}/consents/{consent.id}/withdraw", data={"reason": "Declines"}
        )
    elif state == "other patient":
        give_consent(make_patient(), nurse)
    started = minute(utcnow()) - timedelta(minutes=5)
    if state.startswith("not yet valid"):
        # Charted afterwards, for a session three days before the consent was signed.
        give_consent(patient, nurse, signed_on=today - timedelta(days=1))
        started = minute(utcnow()) - timedelta(days=3)
    response = client.post(
        f"/sessions/new?patient={patient.id}",
        data=open_form(
            nurse,
            clinician,
            started_at=local_text(started),
            course_id=str(open_course_for(patient, clinician).id),
        ),
    )
    assert response.status_code == 422, state
    assert "No current consent covers" in response.get_data(as_text=True)
    assert count(InfusionSession) == 0


def test_a_session_opened_under_a_consent_records_it_and_the_chart_names_it(
    client: FlaskClient, login_as: Callable[..., User], clinician: User
) -> None:
    nurse = login_as(Role.NURSE)
    patient = make_patient()
    consent = give_consent(patient, nurse, Route.INTRANASAL)
    course = open_course_for(patient, clinician)

    response = client.post(
        f"/sessions/new?patient={patient.id}",
        data=open_form(nurse, clinician, "intranasal", course_id=str(course.id)),
    )

    assert response.status_code == 302
    infusion_session = _db.session.scalar(sa.select(InfusionSession))
    assert infusion_session.consent_id == consent.id
    assert infusion_session.consent_on_file is True
    [event] = audit_actions("session_opened")
    changes = json.loads(event.changes)
    assert changes["consent_id"] == [None, consent.id]
    chart = client.get(f"/sessions/{infusion_session.id}").get_data(as_text=True)
    assert (
        "Consent: Intranasal esketamine (REMS enrolment), Consent to ketamine treatment v2025-1"
        in (" ".join(chart.split()))
    )


def test_the_open_form_has_no_consent_checkbox(
    client: FlaskClient, login_as: Callable[..., User]
) -> None:
    login_as(Role.NURSE)
    patient: Patient = make_patient()
    html = client.get(f"/sessions/new?patient={patient.id}").get_data(as_text=True)
    assert 'name="consent_on_file"' not in html
    assert 'data-testid="consent-banner"' in html
