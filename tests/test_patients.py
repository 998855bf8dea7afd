"""Patients: registration, search, versioned edits, the patient page and who may see it."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from clinic.auth.models import Role, User
from clinic.extensions import db as _db
from clinic.patients import services as patient_services
from clinic.patients.models import Indication, Patient, Sex
from clinic.sessions.models import (
    InfusionSession,
    Instrument,
    Route,
    Score,
    ScoreTiming,
    SessionStatus,
)
from tests.conftest import login
from tests.factories import insert_session
from tests.helpers import audit_actions, count_queries

PAGE_SIZE = 3


@pytest.fixture
def app_config() -> dict[str, Any]:
    return {"PATIENTS_PAGE_SIZE": PAGE_SIZE}


def patient_form(**overrides: str) -> dict[str, str]:
    fields = {
        "mrn": "MRN-1001",
        "family_name": "Smith",
        "given_name": "Joanna",
        "date_of_birth": "1980-04-12",
        "sex": "female",
        "allergies": "Penicillin (rash)",
        "indication": "depression",
        "emergency_contact_name": "Sam Smith",
        "emergency_contact_phone": "+1 555 0100",
    }
    fields.update(overrides)
    return fields


def patient_data(**overrides: Any) -> patient_services.PatientData:
    fields: dict[str, Any] = {
        **patient_form(),
        "date_of_birth": date(1980, 4, 12),
        "sex": Sex.FEMALE,
        "indication": Indication.DEPRESSION,
    }
    fields.update(overrides)
    return patient_services.PatientData(**fields)


@pytest.fixture
def make_patient(db: Any, make_user: Callable[..., User]) -> Callable[..., Patient]:
    registrar: list[User] = []

    def make(**overrides: Any) -> Patient:
        if not registrar:
            registrar.append(make_user(Role.NURSE))
        patient = patient_services.register_patient(registrar[0], patient_data(**overrides))
        db.session.commit()
        return patient

    return make


def loaded_version(html: str) -> str:
    match = re.search(r'name="version" type="hidden" value="(\d+)"', html)
    assert match, "the edit form carries no version"
    return match.group(1)


def field_error(html: str, field: str) -> str:
    match = re.search(rf'id="{field}-error"[^>]*>([^<]*)<', html)
    return match.group(1) if match else ""


# Registration


def test_nurse_registers_patient_and_lands_on_the_patient_page(client, db, login_as):
    nurse = login_as(Role.NURSE)
    response = client.post("/patients/new", data=patient_form())

    patient = db.session.scalar(sa.select(Patient))
    assert response.status_code == 302
    assert response.headers["Location"] == f"/patients/{patient.id}"
    assert (patient.mrn, patient.family_name, patient.given_name) == ("MRN-1001", "Smith", "Joanna")
    assert patient.date_of_birth == date(1980, 4, 12)
    assert (patient.sex, patient.indication) == (Sex.FEMALE, Indication.DEPRESSION)
    assert patient.created_by_id == nurse.id
    [event] = audit_actions("patient_registered")
    assert (event.actor_id, event.patient_id, event.entity_id) == (
        nurse.id,
        patient.id,
        str(patient.id),
    )

    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "SMITH, Joanna" in page and "MRN-1001" in page
    assert "Smith" not in response.headers["Location"]  # ids only in URLs


def test_allergies_are_stored_exactly_as_typed(client, db, login_as):
    login_as(Role.CLINICIAN)
    client.post("/patients/new", data=patient_form(allergies="No known drug allergies"))

    patient = db.session.scalar(sa.select(Patient))
    assert patient.allergies == "No known drug allergies"
    page = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert "No known drug allergies" in page
    assert "No allergies recorded" not in page


def test_duplicate_mrn_is_refused_next_to_the_field_with_the_input_kept(
    client, db, login_as, make_patient
):
    make_patient(mrn="AB-123")
    login_as(Role.NURSE)

    response = client.post(
        "/patients/new", data=patient_form(mrn="ab-123", family_name="Okafor", given_name="Chidi")
    )

    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "This MRN belongs to another patient" in field_error(html, "mrn")
    assert 'value="Okafor"' in html and 'value="Chidi"' in html and 'value="ab-123"' in html
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Patient)) == 1


def patient_count() -> int:
    return _db.session.scalar(sa.select(sa.func.count()).select_from(Patient))


def test_a_double_tap_on_register_lands_on_the_patient_registered_once(client, db, login_as):
    login_as(Role.NURSE)
    form = patient_form(submission_key="register-key-1")

    first = client.post("/patients/new", data=form)
    second = client.post("/patients/new", data=form)

    patient = db.session.scalar(sa.select(Patient))
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"] == f"/patients/{patient.id}"
    assert patient_count() == 1
    assert len(audit_actions("patient_registered")) == 1


def test_the_second_tap_losing_the_race_on_the_mrn_still_lands_on_the_patient(
    client, db, login_as, monkeypatch
):
    # Two taps in flight at once: the second checks the key before the first has committed,
    # then loses on the MRN. It is the same registration, not a taken MRN.
    login_as(Role.NURSE)
    form = patient_form(submission_key="register-key-2")
    first = client.post("/patients/new", data=form)
    original = patient_services.registered_earlier
    calls: list[int] = []

    def not_yet_committed(actor, key):
        calls.append(1)
        return None if len(calls) == 1 else original(actor, key)

    monkeypatch.setattr(patient_services, "registered_earlier", not_yet_committed)
    second = client.post("/patients/new", data=form)

    assert len(calls) == 2
    assert second.status_code == 302
    assert second.headers["Location"] == first.headers["Location"]
    assert patient_count() == 1


def test_a_registration_form_sent_again_with_other_values_is_refused_with_a_new_key(
    client, db, login_as
):
    # The back button brings the used form back; typing another patient into it must not be
    # taken for a retry of the first (that patient would silently not be registered).
    login_as(Role.NURSE)
    client.post("/patients/new", data=patient_form(submission_key="register-key-3"))

    response = client.post(
        "/patients/new",
        data=patient_form(submission_key="register-key-3", mrn="MRN-2002", family_name="Okafor"),
    )

    html = response.get_data(as_text=True)
    first = db.session.scalar(sa.select(Patient))
    assert response.status_code == 422
    assert "This form has already registered a patient, so nothing was saved." in html
    assert f'href="/patients/{first.id}"' in html  # where to correct the first registration
    assert 'value="Okafor"' in html and 'value="MRN-2002"' in html
    assert 'value="register-key-3"' not in html  # the next press registers
    assert patient_count() == 1


def test_the_same_key_in_flight_with_other_values_is_refused_not_a_server_error(
    client, db, login_as, monkeypatch
):
    # Both posts checked the key before either was committed; the second, with another MRN,
    # then meets the first's key in the database.
    login_as(Role.NURSE)
    client.post("/patients/new", data=patient_form(submission_key="register-key-5"))
    monkeypatch.setattr(patient_services, "registered_earlier", lambda actor, key: None)

    response = client.post(
        "/patients/new",
        data=patient_form(submission_key="register-key-5", mrn="MRN-3003", family_name="Okafor"),
    )

    assert response.status_code == 422
    assert "This form has already registered a patient" in response.get_data(as_text=True)
    assert patient_count() == 1
    assert len(audit_actions("patient_registered")) == 1


def test_the_same_key_from_another_person_is_not_taken_for_their_registration(
    client, db, login_as, make_user
):
    login_as(Role.NURSE)
    client.post("/patients/new", data=patient_form(submission_key="register-key-4"))
    client.post("/logout")
    login_as(Role.CLINICIAN)

    response = client.post("/patients/new", data=patient_form(submission_key="register-key-4"))

    assert response.status_code == 422
    assert patient_count() == 1


def test_missing_fields_are_named_next_to_each_field(client, db, login_as):
    login_as(Role.NURSE)
    response = client.post("/patients/new", data={"allergies": "Latex"})

    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_error(html, "mrn") == "Enter the MRN."
    assert field_error(html, "family_name") == "Enter the family name."
    assert field_error(html, "given_name") == "Enter the given name."
    assert "date of birth" in field_error(html, "date_of_birth")
    assert field_error(html, "sex") == "Choose the sex."
    assert field_error(html, "indication") == "Choose the indication."
    assert "Latex" in html  # what was typed stays
    assert db.session.scalar(sa.select(Patient)) is None


@pytest.mark.parametrize(
    ("born", "message"),
    [
        ((date.today() + timedelta(days=2)).isoformat(), "cannot be in the future"),
        ("1899-12-31", "cannot be before 1900"),
        ("12/04/1980", "date"),
    ],
)
def test_implausible_date_of_birth_is_refused(client, db, login_as, born, message):
    login_as(Role.NURSE)
    response = client.post("/patients/new", data=patient_form(date_of_birth=born))

    assert response.status_code == 422
    assert message in field_error(response.get_data(as_text=True), "date_of_birth")
    assert db.session.scalar(sa.select(Patient)) is None


def test_emergency_contact_needs_a_usable_phone_number(client, login_as):
    login_as(Role.NURSE)
    missing = client.post("/patients/new", data=patient_form(emergency_contact_phone=""))
    letters = client.post("/patients/new", data=patient_form(emergency_contact_phone="call me"))

    assert "Give a phone number" in field_error(
        missing.get_data(as_text=True), "emergency_contact_phone"
    )
    assert "digits" in field_error(letters.get_data(as_text=True), "emergency_contact_phone")


def test_service_refuses_future_date_of_birth_for_any_caller(db, make_user):
    nurse = make_user(Role.NURSE)
    with pytest.raises(patient_services.PatientError) as refused:
        patient_services.register_patient(
            nurse, patient_data(date_of_birth=date.today() + timedelta(days=400))
        )
    assert refused.value.field == "date_of_birth"


# Search


def test_search_is_case_insensitive_and_partial_on_names(client, login_as, make_patient):
    make_patient(mrn="M1", family_name="Smith", given_name="Joanna")
    make_patient(mrn="M2", family_name="Goldsmith", given_name="Ada")
    make_patient(mrn="M3", family_name="Okafor", given_name="Chidi")
    login_as(Role.NURSE)

    smi = search(client, "SMI").get_data(as_text=True)
    given = search(client, "chid").get_data(as_text=True)

    assert "SMITH, Joanna" in smi and "GOLDSMITH, Ada" in smi and "OKAFOR" not in smi
    assert "OKAFOR, Chidi" in given and "SMITH" not in given


def test_search_finds_a_patient_by_mrn_fragment(client, login_as, make_patient):
    make_patient(mrn="KX-40917", family_name="Smith")
    make_patient(mrn="KX-55555", family_name="Okafor")
    login_as(Role.CLINICIAN)

    html = search(client, "4091").get_data(as_text=True)

    assert "SMITH" in html and "OKAFOR" not in html


def test_search_by_family_comma_given(client, login_as, make_patient):
    make_patient(mrn="M1", family_name="Smith", given_name="Joanna")
    make_patient(mrn="M2", family_name="Smith", given_name="Ada")
    make_patient(mrn="M3", family_name="Jones", given_name="Smitty")
    login_as(Role.NURSE)

    html = search(client, "smith, jo").get_data(as_text=True)

    assert "SMITH, Joanna" in html
    assert "SMITH, Ada" not in html and "JONES" not in html


def test_search_treats_like_wildcards_literally(client, login_as, make_patient):
    make_patient(mrn="M1", family_name="Smith")
    login_as(Role.NURSE)

    html = search(client, "%").get_data(as_text=True)

    assert "SMITH" not in html
    assert "No patient matches" in html


def test_patient_list_is_paginated_and_keeps_the_query(client, login_as, make_patient):
    for number in range(PAGE_SIZE + 2):
        make_patient(mrn=f"P{number}", family_name=f"Test{number}", given_name="Pat")
    make_patient(mrn="Z9", family_name="Other", given_name="Person")
    login_as(Role.NURSE)

    first = search(client, "test").get_data(as_text=True)
    second = search(client, "test", page=2).get_data(as_text=True)

    assert [f"TEST{n}" in first for n in range(5)] == [True, True, True, False, False]
    assert [f"TEST{n}" in second for n in range(5)] == [False, False, False, True, True]
    assert "OTHER" not in first + second
    assert "Page 1 of 2" in first
    # The next page is a post carrying the search again, never a URL with it.
    assert re.search(r'name="q" value="test">\s*<input type="hidden" name="page" value="2">', first)
    assert "q=" not in first  # the search stays out of every URL (access logs, history)
    assert "5 patients match" in first


def test_the_unsearched_list_pages_by_url(client, login_as, make_patient):
    for number in range(PAGE_SIZE + 2):
        make_patient(mrn=f"P{number}", family_name=f"Test{number}", given_name="Pat")
    login_as(Role.NURSE)

    first = client.get("/patients/").get_data(as_text=True)
    second = client.get("/patients/?page=2").get_data(as_text=True)

    assert "/patients/?page=2" in first and "Page 1 of 2" in first
    assert "TEST3" in second and "TEST0" not in second


def test_search_pages_show_the_same_total_whether_counted_or_told_by_the_last_page(
    client, db, login_as, make_patient
):
    for number in range(PAGE_SIZE + 2):
        make_patient(mrn=f"P{number}", family_name=f"Test{number}", given_name="Pat")
    make_patient(mrn="Z9", family_name="Other", given_name="Person")
    login_as(Role.NURSE)

    pages = {}
    for page in (1, 2, 3):
        with count_queries(db.engine) as statements:
            pages[page] = search(client, "test", page=page).get_data(as_text=True)
        counted = any(re.search(r"count\(", s, re.I) for s in statements)
        # A full page or an empty one past the first must count; the last page tells the total.
        assert counted == (page != 2), page

    assert "5 patients match" in pages[1] and "Page 1 of 2" in pages[1]
    assert "5 patients match" in pages[2] and "Page 2 of 2" in pages[2]
    assert "TEST3" in pages[2] and "TEST4" in pages[2] and "TEST2" not in pages[2]
    assert "5 patients match" in pages[3] and "SMITH" not in pages[3]


def test_a_search_that_fits_on_one_page_is_not_counted_again(client, db, login_as, make_patient):
    make_patient(mrn="KX-40917", family_name="Smith", given_name="Joanna")
    make_patient(mrn="KX-55555", family_name="Smithers", given_name="Ada")
    make_patient(mrn="KX-12345", family_name="Okafor", given_name="Chidi")
    login_as(Role.NURSE)

    with count_queries(db.engine) as statements:
        html = search(client, "smith").get_data(as_text=True)

    assert not any(re.search(r"count\(", s, re.I) for s in statements)
    assert "2 patients match" in html and "OKAFOR" not in html
    assert search(client, "nobody").get_data(as_text=True).count("0 patients match") == 1


def test_search_words_match_within_one_field_never_across_two(client, login_as, make_patient):
    make_patient(mrn="KX-1", family_name="Smith", given_name="Ann")
    login_as(Role.NURSE)

    across = search(client, "thann").get_data(as_text=True)  # "Smi|th" + "|Ann"
    across_mrn = search(client, "annkx").get_data(as_text=True)
    within = search(client, "ann kx-1").get_data(as_text=True)

    assert "SMITH" not in across and "SMITH" not in across_mrn
    assert "SMITH, Ann" in within


def test_patient_list_links_to_registration(client, login_as):
    login_as(Role.NURSE)
    html = client.get("/patients/").get_data(as_text=True)
    assert 'href="/patients/new"' in html and "Register patient" in html


# Editing


def test_edit_saves_and_audits_old_and_new_values(client, db, login_as, make_patient):
    patient = make_patient(allergies="")
    clinician = login_as(Role.CLINICIAN)
    version = loaded_version(client.get(f"/patients/{patient.id}/edit").get_data(as_text=True))

    response = client.post(
        f"/patients/{patient.id}/edit",
        data=patient_form(allergies="Sulfa drugs", indication="both", version=version),
    )

    assert response.status_code == 302
    assert response.headers["Location"] == f"/patients/{patient.id}"
    db.session.expire_all()
    patient = db.session.get(Patient, patient.id)
    assert (patient.allergies, patient.indication, patient.version) == (
        "Sulfa drugs",
        Indication.BOTH,
        2,
    )
    [event] = audit_actions("patient_updated")
    assert (event.actor_id, event.patient_id, event.entity_id) == (
        clinician.id,
        patient.id,
        str(patient.id),
    )
    assert json.loads(event.changes) == {
        "allergies": ["", "Sulfa drugs"],
        "indication": ["depression", "both"],
    }


def test_edit_without_changes_writes_no_new_version(client, db, login_as, make_patient):
    patient = make_patient()
    login_as(Role.NURSE)

    response = client.post(f"/patients/{patient.id}/edit", data=patient_form(version="1"))

    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Patient, patient.id).version == 1
    assert audit_actions("patient_updated") == []


def test_stale_edit_is_refused_with_input_kept_and_nothing_overwritten(
    app: Flask, client, db, login_as, make_user, make_patient
):
    patient = make_patient(family_name="Smith", allergies="")
    login_as(Role.NURSE)  # user A
    form_of_a = client.get(f"/patients/{patient.id}/edit").get_data(as_text=True)
    version_of_a = loaded_version(form_of_a)

    user_b = make_user(Role.CLINICIAN, full_name="Dana Reyes", credentials="MD")
    client_b: FlaskClient = app.test_client()
    login(client_b, user_b.username)
    saved_by_b = client_b.post(
        f"/patients/{patient.id}/edit",
        data=patient_form(allergies="Penicillin (anaphylaxis)", version=version_of_a),
    )
    assert saved_by_b.status_code == 302

    response = client.post(
        f"/patients/{patient.id}/edit",
        data=patient_form(family_name="Smith-Jones", allergies="", version=version_of_a),
    )

    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Dana Reyes, MD changed this record at" in html
    assert "review their changes" in html.lower()
    assert 'value="Smith-Jones"' in html  # A's input stays on the form
    assert "Penicillin (anaphylaxis)" in html  # B's saved value is shown to A
    db.session.expire_all()
    saved = db.session.get(Patient, patient.id)
    assert (saved.family_name, saved.allergies, saved.version) == (
        "Smith",
        "Penicillin (anaphylaxis)",
        2,
    )
    assert len(audit_actions("patient_updated")) == 1

    # Having now seen B's changes, A may save knowingly: the form carries the current version.
    assert loaded_version(html) == "2"
    resaved = client.post(
        f"/patients/{patient.id}/edit",
        data=patient_form(
            family_name="Smith-Jones", allergies="Penicillin (anaphylaxis)", version="2"
        ),
    )
    assert resaved.status_code == 302
    db.session.expire_all()
    assert db.session.get(Patient, patient.id).family_name == "Smith-Jones"


def test_update_service_refuses_a_stale_version_before_writing(db, make_user, make_patient):
    patient = make_patient()
    nurse = make_user(Role.NURSE)
    patient_services.update_patient(nurse, patient, patient_data(allergies="Latex"), 1)
    db.session.commit()

    with pytest.raises(patient_services.StalePatientError):
        patient_services.update_patient(nurse, patient, patient_data(allergies="Iodine"), 1)
    db.session.rollback()

    assert db.session.get(Patient, patient.id).allergies == "Latex"
    assert len(audit_actions("patient_updated")) == 1


def test_edit_to_an_mrn_of_another_patient_is_refused(client, db, login_as, make_patient):
    make_patient(mrn="TAKEN-1")
    patient = make_patient(mrn="MINE-2")
    login_as(Role.NURSE)

    response = client.post(
        f"/patients/{patient.id}/edit", data=patient_form(mrn="taken-1", version="1")
    )

    assert response.status_code == 422
    assert "another patient" in field_error(response.get_data(as_text=True), "mrn")
    db.session.expire_all()
    assert db.session.get(Patient, patient.id).mrn == "MINE-2"


# The patient page


def add_phq9(db: Any, session: InfusionSession, user: User, *, voided: bool = False) -> Score:
    now = datetime.now(UTC)
    score = Score(
        session_id=session.id,
        recorded_by_id=user.id,
        instrument=Instrument.PHQ9,
        timing=ScoreTiming.BEFORE,
        occurred_at=now,
        answers=[1, 1, 1, 1, 1, 1, 1, 1, 1],
        total=9,
        risk_flag=True,
        voided_at=now if voided else None,
        voided_by_id=user.id if voided else None,
        void_reason="entered on the wrong patient" if voided else None,
    )
    db.session.add(score)
    db.session.commit()
    return score


def test_patient_page_shows_the_allergy_banner(client, login_as, make_patient):
    allergic = make_patient(mrn="A1", allergies="Penicillin (rash)")
    unknown = make_patient(mrn="A2", allergies="")
    login_as(Role.NURSE)

    allergic_page = client.get(f"/patients/{allergic.id}").get_data(as_text=True)
    unknown_page = client.get(f"/patients/{unknown.id}").get_data(as_text=True)
    edit_page = client.get(f"/patients/{allergic.id}/edit").get_data(as_text=True)

    banner = re.compile(r'role="alert" data-testid="allergy-banner">\s*<strong>Allergies:</strong>')
    assert banner.search(allergic_page) and "Penicillin (rash)" in allergic_page
    assert banner.search(edit_page)  # on every page about the patient
    assert "No allergies recorded" in unknown_page


def test_patient_page_lists_sessions_newest_first_with_links(
    client, db, login_as, make_patient, make_user
):
    patient = make_patient()
    clinician = make_user(Role.CLINICIAN)
    start = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
    oldest = insert_session(patient, clinician, started_at=start)
    newest = insert_session(
        patient, clinician, started_at=start + timedelta(days=14), route=Route.INTRANASAL
    )
    middle = insert_session(
        patient, clinician, started_at=start + timedelta(days=7), route=Route.IM
    )
    login_as(Role.NURSE)

    html = client.get(f"/patients/{patient.id}").get_data(as_text=True)

    links = re.findall(r'href="/sessions/(\d+)"', html)
    assert links == [str(newest.id), str(middle.id), str(oldest.id)]
    assert "Intranasal (IN)" in html and SessionStatus.IN_PROGRESS.label in html
    assert "2026-03-02 09:00" in html  # started_at in the clinic's zone (New York)
    assert f'href="/sessions/new?patient={patient.id}"' in html


def test_patient_page_flags_suicide_risk_from_a_non_voided_phq9(
    client, db, login_as, make_patient, make_user
):
    flagged = make_patient(mrn="R1")
    voided_only = make_patient(mrn="R2")
    clinician = make_user(Role.CLINICIAN)
    session = insert_session(flagged, clinician, started_at=datetime(2026, 3, 2, 14, 0, tzinfo=UTC))
    add_phq9(db, session, clinician)
    other = insert_session(
        voided_only, clinician, started_at=datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    )
    add_phq9(db, other, clinician, voided=True)
    login_as(Role.NURSE)

    flagged_page = client.get(f"/patients/{flagged.id}").get_data(as_text=True)
    voided_page = client.get(f"/patients/{voided_only.id}").get_data(as_text=True)

    assert 'data-testid="risk-flag"' in flagged_page
    assert flagged_page.index("risk-flag") < flagged_page.index("allergy-banner")
    assert 'data-testid="risk-flag"' not in voided_page


def test_viewing_a_patient_writes_an_audit_event(client, db, login_as, make_patient):
    patient = make_patient()
    nurse = login_as(Role.NURSE)

    client.get(f"/patients/{patient.id}")

    [event] = audit_actions("patient_viewed")
    assert (event.actor_id, event.entity, event.entity_id, event.patient_id) == (
        nurse.id,
        "patient",
        str(patient.id),
        patient.id,
    )
    assert json.loads(event.changes) == {}  # ids only: nothing of the record in the trail


def test_unknown_patient_is_not_found(client, login_as):
    login_as(Role.NURSE)
    assert client.get("/patients/999999").status_code == 404
    assert client.get("/patients/999999/edit").status_code == 404


def test_html_in_patient_fields_is_escaped(client, db, login_as):
    login_as(Role.NURSE)
    client.post(
        "/patients/new",
        data=patient_form(
            family_name="<script>x</script>",
            given_name='<img src=x onerror="alert(1)">',
            allergies="<b>latex</b>",
        ),
    )
    patient = db.session.scalar(sa.select(Patient))

    pages = [
        client.get(f"/patients/{patient.id}").get_data(as_text=True),
        search(client, "script").get_data(as_text=True),
        client.get(f"/patients/{patient.id}/edit").get_data(as_text=True),
    ]

    for html in pages:
        assert "<script>x" not in html.lower()
        assert "<img src=x" not in html and "<b>latex" not in html
        assert "&lt;script&gt;" in html.lower()


def test_age_counts_whole_years_to_the_birthday():
    assert patient_services.age_on(date(1980, 4, 12), date(2026, 4, 11)) == 45
    assert patient_services.age_on(date(1980, 4, 12), date(2026, 4, 12)) == 46


# Who may reach what (DESIGN.md §2)

ROUTES = ["/patients/", "/patients/new", "/patients/{id}", "/patients/{id}/edit"]


@pytest.mark.parametrize("route", ROUTES)
def test_anonymous_is_sent_to_sign_in(client, make_patient, route):
    patient = make_patient()
    response = client.get(route.format(id=patient.id))
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("route", ROUTES)
def test_admin_sees_no_patient_page(client, login_as, make_patient, route):
    patient = make_patient()
    login_as(Role.ADMIN)
    assert client.get(route.format(id=patient.id)).status_code == 403


@pytest.mark.parametrize("route", ["/patients/new", "/patients/{id}/edit"])
def test_admin_cannot_post_patient_forms(client, db, login_as, make_patient, route):
    patient = make_patient()
    login_as(Role.ADMIN)
    response = client.post(route.format(id=patient.id), data=patient_form(mrn="NEW-1", version="1"))
    assert response.status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Patient)) == 1


@pytest.mark.parametrize("role", [Role.NURSE, Role.CLINICIAN])
@pytest.mark.parametrize("route", ROUTES)
def test_nurses_and_clinicians_reach_every_patient_page(
    client, login_as, make_patient, role, route
):
    patient = make_patient()
    login_as(role)
    assert client.get(route.format(id=patient.id)).status_code == 200


def search(client, text: str, page: int | None = None):
    """Post a search (and the page wanted): answered at once, kept neither in the URL nor in the
    session (tests/test_bounded_input.py)."""
    data = {"q": text, **({"page": str(page)} if page else {})}
    posted = client.post("/patients/", data=data)
    assert posted.status_code == 200
    return posted
