"""Treatment courses (issue 13): a clinician opens, reviews and ends a course, a nurse reads it;
a session opens under the patient's active course and shows its place in it ("3 of 6"); the
history shows each course with its sessions held, PHQ-9 first and last and its reviews."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta
from html import unescape

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from clinic.auth.models import Role, User
from clinic.database import utcnow
from clinic.extensions import db as _db
from clinic.patients.courses.models import CourseReview, CourseStatus, TreatmentCourse
from clinic.patients.courses.services import clinic_today
from clinic.sessions.models import InfusionSession, SessionStatus
from tests.factories import (
    give_consent,
    make_patient,
    open_course_for,
    open_session_for,
    record_scores,
)
from tests.helpers import audit_actions, input_value, local_text, minute


def count(model: type) -> int:
    return _db.session.scalar(sa.select(sa.func.count()).select_from(model))


def text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def course_form(**values: str) -> dict[str, str]:
    return {
        "indication": "depression",
        "protocol": "induction",
        "protocol_name": "6 IV infusions over 3 weeks",
        "planned_sessions": "6",
        "start_date": clinic_today().isoformat(),
        "review_due": (clinic_today() + timedelta(days=21)).isoformat(),
        **values,
    }


def open_form(nurse: User, clinician: User, **values: str) -> dict[str, str]:
    return {
        "indication": "depression",
        "route": "iv",
        "attending_clinician_id": str(clinician.id),
        "nurse_id": str(nurse.id),
        "started_at": local_text(minute(utcnow()) - timedelta(minutes=5)),
        **values,
    }


@pytest.fixture
def clinician(make_user: Callable[..., User]) -> User:
    return make_user(Role.CLINICIAN, full_name="Dr Course")


# --- opening, reviewing, ending -------------------------------------------------------------------


def test_clinician_opens_a_course_and_is_taken_to_its_page(
    client: FlaskClient, login_as: Callable[..., User]
) -> None:
    clinician = login_as(Role.CLINICIAN)
    patient = make_patient()
    response = client.post(
        f"/patients/{patient.id}/courses/new", data=course_form(submission_key="k-1")
    )
    assert response.status_code == 302
    course = _db.session.scalar(sa.select(TreatmentCourse))
    assert response.headers["Location"].endswith(f"/patients/{patient.id}/courses/{course.id}")
    assert (course.planned_sessions, course.status, course.clinician_id) == (
        6,
        CourseStatus.ACTIVE,
        clinician.id,
    )
    [event] = audit_actions("course_opened")
    assert json.loads(event.changes)["planned_sessions"] == [None, 6]
    page = text(client.get(response.headers["Location"]).get_data(as_text=True))
    assert "Treatment course: Induction (6 IV infusions over 3 weeks)" in page
    assert "Sessions: 0 of 6 held" in page

    # The same form sent again opens no second course.
    again = client.post(
        f"/patients/{patient.id}/courses/new", data=course_form(submission_key="k-1")
    )
    assert again.status_code == 302
    assert count(TreatmentCourse) == 1


def test_a_nurse_reads_courses_but_opens_reviews_and_ends_none(
    client: FlaskClient, login_as: Callable[..., User], clinician: User
) -> None:
    patient = make_patient()
    course = open_course_for(patient, clinician)
    login_as(Role.NURSE)
    assert client.get(f"/patients/{patient.id}/courses/{course.id}").status_code == 200
    base = f"/patients/{patient.id}/courses"
    for url, data in (
        (f"{base}/new", course_form()),
        (f"{base}/{course.id}/reviews", {"reviewed_on": clinic_today().isoformat(), "note": "x"}),
        (f"{base}/{course.id}/end", {"outcome": "completed"}),
    ):
        assert client.get(url).status_code == 403
        assert client.post(url, data=data).status_code == 403
    assert count(TreatmentCourse) == 1 and count(CourseReview) == 0
    assert _db.session.get(TreatmentCourse, course.id).status == CourseStatus.ACTIVE


def test_a_second_active_course_is_refused(
    client: FlaskClient, login_as: Callable[..., User]
) -> None:
    clinician = login_as(Role.CLINICIAN)
    patient = make_patient()
    open_course_for(patient, clinician)
    response = client.post(f"/patients/{patient.id}/courses/new", data=course_form())
    assert response.status_code == 422
    assert "has an active course" in response.get_data(as_text=True)
    assert count(TreatmentCourse) == 1


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"planned_sessions": "0"}, "planned_sessions", "Plan between 1 and 100 sessions."),
        ({"planned_sessions": "six"}, "planned_sessions", "Enter a whole number of sessions."),
        ({"protocol": "other", "protocol_name": ""}, "protocol_name", "Name the protocol."),
        (
            {"start_date": "2026-05-10", "review_due": "2026-05-01"},
            "review_due",
            "The review falls due after the course starts.",
        ),
    ],
)
def test_a_course_with_impossible_values_is_refused_next_to_the_field(
    client: FlaskClient,
    login_as: Callable[..., User],
    values: dict[str, str],
    field: str,
    message: str,
) -> None:
    login_as(Role.CLINICIAN)
    patient = make_patient()
    if "start_date" in values:
        values = {**values, "start_date": clinic_today().isoformat()}
        values["review_due"] = (clinic_today() - timedelta(days=1)).isoformat()
    response = client.post(f"/patients/{patient.id}/courses/new", data=course_form(**values))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = re.search(rf'id="{field}-error"[^>]*>([^<]*)<', html)
    assert error and message in unescape(error.group(1)), html
    assert count(TreatmentCourse) == 0


def test_a_review_is_recorded_and_shown_on_the_course(
    client: FlaskClient, login_as: Callable[..., User]
) -> None:
    clinician = login_as(Role.CLINICIAN)
    patient = make_patient()
    course = open_course_for(patient, clinician)
    url = f"/patients/{patient.id}/courses/{course.id}/reviews"
    form = client.get(url).get_data(as_text=True)
    assert input_value(form, "reviewed_on") == clinic_today().isoformat()

    refused = client.post(url, data={"reviewed_on": clinic_today().isoformat(), "note": " "})
    assert refused.status_code == 422
    data = {
        "reviewed_on": clinic_today().isoformat(),
        "note": "PHQ-9 down by half: responding. Continue as planned.",
        "submission_key": "review-1",
    }
    assert client.post(url, data=data).status_code == 302
    assert client.post(url, data=data).status_code == 302  # a double tap stores one review
    [review] = _db.session.scalars(sa.select(CourseReview)).all()
    assert (review.course_id, review.clinician_id) == (course.id, clinician.id)
    [event] = audit_actions("course_reviewed")
    assert json.loads(event.changes)["note"][1].startswith("PHQ-9 down by half")
    page = text(client.get(f"/patients/{patient.id}/courses/{course.id}").get_data(as_text=True))
    assert "PHQ-9 down by half: responding." in page


def test_discontinuing_a_course_needs_a_reason_and_ends_it_once(
    client: FlaskClient, login_as: Callable[..., User]
) -> None:
    clinician = login_as(Role.CLINICIAN)
    patient = make_patient()
    course = open_course_for(patient, clinician)
    url = f"/patients/{patient.id}/courses/{course.id}/end"

    refused = client.post(url, data={"outcome": "discontinued", "reason": ""})
    assert refused.status_code == 422
    assert "Say why the course is discontinued." in unescape(refused.get_data(as_text=True))

    assert (
        client.post(url, data={"outcome": "discontinued", "reason": "BP peaks"}).status_code == 302
    )
    _db.session.expire_all()
    ended = _db.session.get(TreatmentCourse, course.id)
    assert (ended.status, ended.end_reason, ended.ended_by_id) == (
        CourseStatus.DISCONTINUED,
        "BP peaks",
        clinician.id,
    )
    again = client.post(url, data={"outcome": "completed"})
    assert again.status_code == 409
    assert "has ended already" in again.get_data(as_text=True)
    assert len(audit_actions("course_ended")) == 1
    assert _db.session.get(TreatmentCourse, course.id).status == CourseStatus.DISCONTINUED


# --- sessions in a course -------------------------------------------------------------------------


def test_a_session_opens_under_the_active_course_preselected(
    client: FlaskClient, login_as: Callable[..., User], clinician: User
) -> None:
    nurse = login_as(Role.NURSE)
    patient = make_patient()
    give_consent(patient, nurse)
    course = open_course_for(patient, clinician)
    html = client.get(f"/sessions/new?patient={patient.id}").get_data(as_text=True)
    assert re.search(rf'<option selected value="{course.id}">', html)

    response = client.post(
        f"/sessions/new?patient={patient.id}",
        data=open_form(nurse, clinician, course_id=str(course.id)),
    )
    assert response.status_code == 302
    infusion_session = _db.session.scalar(sa.select(InfusionSession))
    assert infusion_session.course_id == course.id
    [event] = audit_actions("session_opened")
    assert json.loads(event.changes)["course_id"] == [None, course.id]


def test_a_session_is_refused_without_an_active_course(
    client: FlaskClient, login_as: Callable[..., User], clinician: User
) -> None:
    nurse = login_as(Role.NURSE)
    patient = make_patient()
    give_consent(patient, nurse)
    ended = open_course_for(patient, clinician, status=CourseStatus.COMPLETED)
    page = client.get(f"/sessions/new?patient={patient.id}").get_data(as_text=True)
    assert "No active treatment course" in page

    response = client.post(
        f"/sessions/new?patient={patient.id}",
        data=open_form(nurse, clinician, course_id=str(ended.id)),
    )
    assert response.status_code == 422
    html = unescape(response.get_data(as_text=True))
    error = re.search(r'id="course_id-error"[^>]*>([^<]*)<', html)
    assert error, html
    assert count(InfusionSession) == 0


def test_a_session_under_another_patients_course_is_refused(
    client: FlaskClient, login_as: Callable[..., User], clinician: User
) -> None:
    from clinic.sessions.entries import ChartError
    from clinic.sessions.services.opening import SessionDetails, open_session

    nurse = login_as(Role.NURSE)
    patient, other = make_patient(), make_patient()
    give_consent(patient, nurse)
    open_course_for(patient, clinician)
    others = open_course_for(other, clinician)
    details = SessionDetails(
        indication=patient.indication,
        route="iv",
        attending_clinician_id=clinician.id,
        nurse_id=nurse.id,
        started_at=minute(utcnow()),
        fasting_confirmed=True,
        weight_kg=None,
        course_id=others.id,
    )
    with pytest.raises(ChartError) as refused:
        open_session(nurse, patient.id, details, None)
    assert refused.value.field == "course_id"


def test_the_chart_and_history_show_the_sessions_place_in_its_course(
    client: FlaskClient, login_as: Callable[..., User], clinician: User
) -> None:
    nurse = login_as(Role.NURSE)
    patient = make_patient()
    course = open_course_for(patient, clinician, planned_sessions=6)
    start = minute(utcnow()) - timedelta(days=14)
    sessions = [
        open_session_for(patient, nurse, clinician, started_at=start + timedelta(days=7 * n))
        for n in range(3)
    ]
    for infusion_session, phq9 in zip(sessions, (20, 14, 9), strict=True):
        record_scores(infusion_session, nurse, infusion_session.started_at, phq9_before=phq9)
    # A cancelled visit takes no number.
    cancelled = open_session_for(patient, nurse, clinician, started_at=start + timedelta(days=1))
    _db.session.execute(
        sa.update(InfusionSession)
        .where(InfusionSession.id == cancelled.id)
        .values(status=SessionStatus.CANCELLED)
    )
    _db.session.commit()

    chart = text(client.get(f"/sessions/{sessions[2].id}").get_data(as_text=True))
    assert "Induction (6 IV infusions over 3 weeks) · session 3 of 6" in chart
    history = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    row = re.search(rf'data-session-id="{sessions[1].id}">(.*?)</tr>', history, re.S).group(1)
    assert "session 2 of 6" in text(row)
    courses = re.search(r'data-testid="courses">(.*?)</section>', history, re.S).group(1)
    assert re.search(r'data-testid="course-held">\s*3 of 6', courses)
    assert "20" in text(re.search(r'data-testid="phq9-first">(.*?)</td>', courses, re.S).group(1))
    last = text(re.search(r'data-testid="phq9-last">(.*?)</td>', courses, re.S).group(1))
    assert last.startswith("9") and "response" in last
    page = text(client.get(f"/patients/{patient.id}/courses/{course.id}").get_data(as_text=True))
    assert "Sessions: 3 of 6 held" in page
    assert "not counted" in page
