"""Opening a session and the chart: roles, defaults, audit, loading, signed chart, discharge."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from clinic.auth.models import Role, User
from clinic.clinic_time import to_local
from clinic.database import utcnow
from clinic.extensions import db as _db
from clinic.patients.models import Indication
from clinic.sessions.models import (
    InfusionSession,
    MonitoringEntry,
    Route,
    SessionStatus,
)
from clinic.sessions.services.administrations import InfusionEventDetails, record_infusion_event
from clinic.sessions.services.monitoring import MonitoringDetails, record_monitoring
from tests.factories import make_patient, open_session_for, ready_to_open, record_administration
from tests.helpers import (
    audit_actions,
    count_queries,
    input_value,
    local_text,
    minute,
    sign_in_db,
    time_value,
)


@pytest.fixture
def team(make_user: Callable[..., User]) -> dict[str, User]:
    return {
        "clinician": make_user(Role.CLINICIAN, full_name="Dr Attending"),
        "other_nurse": make_user(Role.NURSE, full_name="Other Nurse"),
    }


# --- opening a session -------------------------------------------------------------------------


def test_nurse_opens_session_and_is_taken_to_the_chart(
    client: FlaskClient, login_as: Callable[..., User], team: dict[str, User]
) -> None:
    nurse = login_as(Role.NURSE)
    patient = make_patient()
    course = ready_to_open(patient, team["clinician"], Route.INTRANASAL)
    started = minute(utcnow()) - timedelta(minutes=5)
    form = {
        "course_id": str(course.id),
        "indication": "depression",
        "route": "intranasal",
        "attending_clinician_id": team["clinician"].id,
        "nurse_id": nurse.id,
        "started_at": local_text(started),
        "fasting_confirmed": "y",
        "weight_kg": "72.40",
        "submission_key": "open-1",
    }
    response = client.post(f"/sessions/new?patient={patient.id}", data=form)
    assert response.status_code == 302
    infusion_session = _db.session.scalar(sa.select(InfusionSession))
    assert response.headers["Location"].endswith(f"/sessions/{infusion_session.id}")
    assert infusion_session.route == Route.INTRANASAL
    assert infusion_session.indication == Indication.DEPRESSION
    assert infusion_session.started_at == started
    assert infusion_session.weight_kg == Decimal("72.40")
    assert infusion_session.consent_on_file and infusion_session.fasting_confirmed
    assert infusion_session.status == SessionStatus.IN_PROGRESS
    [event] = audit_actions("session_opened")
    assert event.patient_id == patient.id and event.actor_id == nurse.id

    # The same form posted again (double tap) opens no second session.
    again = client.post(f"/sessions/new?patient={patient.id}", data=form)
    assert again.status_code == 302
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(InfusionSession)) == 1


def test_open_session_form_defaults_to_patient_indication_current_nurse_and_now(
    client: FlaskClient, login_as: Callable[..., User], team: dict[str, User]
) -> None:
    nurse = login_as(Role.NURSE)
    patient = make_patient(Indication.FIBROMYALGIA)
    html = client.get(f"/sessions/new?patient={patient.id}").get_data(as_text=True)
    assert re.search(
        r'<option selected value="fibromyalgia">|<option value="fibromyalgia" selected', html
    )
    assert re.search(rf'<option selected value="{nurse.id}">', html)
    started = time_value(html, "started_at")
    assert started and started[:10] == to_local(utcnow()).strftime("%Y-%m-%d")
    assert "Dr Attending" in html


def test_open_session_refuses_missing_route_and_bad_weight_keeping_input(
    client: FlaskClient, login_as: Callable[..., User], team: dict[str, User]
) -> None:
    nurse = login_as(Role.NURSE)
    patient = make_patient()
    response = client.post(
        f"/sessions/new?patient={patient.id}",
        data={
            "indication": "depression",
            "route": "",
            "attending_clinician_id": team["clinician"].id,
            "nurse_id": nurse.id,
            "started_at": local_text(utcnow()),
            "weight_kg": "72.456",
        },
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Choose the route." in html
    assert "At most 2 decimal places" in html
    assert input_value(html, "weight_kg") == "72.456"
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(InfusionSession)) == 0


def test_open_session_refuses_a_nurse_as_attending(
    client: FlaskClient, login_as: Callable[..., User], team: dict[str, User]
) -> None:
    nurse = login_as(Role.NURSE)
    patient = make_patient()
    response = client.post(
        f"/sessions/new?patient={patient.id}",
        data={
            "indication": "depression",
            "route": "iv",
            "attending_clinician_id": team["other_nurse"].id,
            "nurse_id": nurse.id,
            "started_at": local_text(utcnow()),
        },
    )
    assert response.status_code == 422
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(InfusionSession)) == 0


@pytest.mark.parametrize(
    ("role", "expected"), [(Role.NURSE, 200), (Role.CLINICIAN, 200), (Role.ADMIN, 403)]
)
def test_open_session_and_chart_roles(
    client: FlaskClient,
    login_as: Callable[..., User],
    team: dict[str, User],
    role: Role,
    expected: int,
) -> None:
    patient = make_patient()
    infusion_session = open_session_for(patient, team["other_nurse"], team["clinician"])
    login_as(role)
    assert client.get(f"/sessions/new?patient={patient.id}").status_code == expected
    assert client.get(f"/sessions/{infusion_session.id}").status_code == expected
    if role == Role.ADMIN:
        assert client.post(f"/sessions/new?patient={patient.id}", data={}).status_code == 403
        for path in ("monitoring", "administrations", "end"):
            response = client.post(f"/sessions/{infusion_session.id}/{path}", data={})
            assert response.status_code == 403


def test_anonymous_is_sent_to_sign_in(client: FlaskClient, team: dict[str, User]) -> None:
    patient = make_patient()
    infusion_session = open_session_for(patient, team["other_nurse"], team["clinician"])
    for path in (f"/sessions/new?patient={patient.id}", f"/sessions/{infusion_session.id}"):
        response = client.get(path)
        assert response.status_code == 302
        assert "/login" in response.headers["Location"]
    response = client.post(f"/sessions/{infusion_session.id}/monitoring", data={"note": "x"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(MonitoringEntry)) == 0


def test_unknown_patient_or_session_is_404(
    client: FlaskClient, login_as: Callable[..., User]
) -> None:
    login_as(Role.NURSE)
    assert client.get("/sessions/new?patient=999").status_code == 404
    assert client.get("/sessions/new").status_code == 404
    assert client.get("/sessions/999").status_code == 404


# --- the chart ---------------------------------------------------------------------------------


def test_chart_shows_header_and_writes_session_viewed_audit(
    client: FlaskClient, login_as: Callable[..., User], team: dict[str, User]
) -> None:
    nurse = login_as(Role.NURSE)
    patient = make_patient()
    infusion_session = open_session_for(patient, nurse, team["clinician"], route=Route.IM)
    response = client.get(f"/sessions/{infusion_session.id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Penicillin" in html  # allergies on the chart
    assert "Intramuscular (IM)" in html
    assert "In progress" in html
    assert "Dr Attending" in html
    assert html.index('id="administrations"') < html.index('id="monitoring"')
    # The quick-entry form sits above the flowsheet.
    assert f'action="/sessions/{infusion_session.id}/monitoring' in html
    [event] = audit_actions("session_viewed")
    assert event.patient_id == patient.id
    assert event.entity_id == str(infusion_session.id)
    assert event.actor_id == nurse.id


def test_chart_query_count_does_not_grow_with_entries(
    client: FlaskClient, login_as: Callable[..., User], team: dict[str, User]
) -> None:
    nurse = login_as(Role.NURSE)
    patient = make_patient()
    infusion_session = open_session_for(patient, nurse, team["clinician"])
    start = infusion_session.started_at

    def chart_queries() -> int:
        _db.session.expire_all()
        with count_queries() as statements:
            assert client.get(f"/sessions/{infusion_session.id}").status_code == 200
        return len(statements)

    record_administration(infusion_session, nurse, started_at=start + timedelta(minutes=5))
    record_monitoring(
        nurse,
        infusion_session.id,
        MonitoringDetails(phase="baseline", occurred_at=start, heart_rate=70),
        None,
    )
    _db.session.commit()
    few = chart_queries()
    for n in range(10):
        administration = record_administration(
            infusion_session, team["other_nurse"], started_at=start + timedelta(minutes=10 + n)
        )
        record_infusion_event(
            nurse,
            infusion_session.id,
            administration.id,
            InfusionEventDetails(kind="started", occurred_at=start + timedelta(minutes=10 + n)),
            None,
        )
        record_monitoring(
            team["other_nurse"],
            infusion_session.id,
            MonitoringDetails(
                phase="during", occurred_at=start + timedelta(minutes=11 + n), heart_rate=80
            ),
            None,
        )
        _db.session.commit()
    assert chart_queries() == few


def test_signed_session_chart_shows_no_entry_forms(
    client: FlaskClient, login_as: Callable[..., User], team: dict[str, User]
) -> None:
    nurse = login_as(Role.NURSE)
    infusion_session = open_session_for(make_patient(), nurse, team["clinician"])
    record_administration(
        infusion_session, nurse, started_at=infusion_session.started_at + timedelta(minutes=1)
    )
    sign_in_db(infusion_session.id)
    html = client.get(f"/sessions/{infusion_session.id}").get_data(as_text=True)
    assert "Signed" in html
    for path in ("monitoring", "administrations", "end"):
        assert f'action="/sessions/{infusion_session.id}/{path}' not in html
    assert "/events" not in html
    assert (
        'name="submission_key"' not in html.split('id="administrations"')[1].split('id="ending"')[0]
    )


# --- ending ------------------------------------------------------------------------------------


def test_discharge_is_recorded_with_driver_and_audited(
    client: FlaskClient, login_as: Callable[..., User], team: dict[str, User]
) -> None:
    nurse = login_as(Role.NURSE)
    patient = make_patient()
    infusion_session = open_session_for(patient, nurse, team["clinician"])
    left = minute(utcnow())
    response = client.post(
        f"/sessions/{infusion_session.id}/end",
        data={
            "discharged_at": local_text(left),
            "discharged_with": "  John Doe (husband) ",
            "version": "1",
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/sessions/{infusion_session.id}#ending")
    _db.session.expire_all()
    stored = _db.session.get(InfusionSession, infusion_session.id)
    assert stored.discharged_at == left
    assert stored.discharged_with == "John Doe (husband)"
    [event] = audit_actions("session_ended")
    assert event.patient_id == patient.id
    html = client.get(f"/sessions/{infusion_session.id}").get_data(as_text=True)
    assert "John Doe (husband)" in html
    assert 'data-testid="vitals-due"' not in html  # the patient has left: no vitals clock


def test_discharge_needs_the_driver_name(
    client: FlaskClient, login_as: Callable[..., User], team: dict[str, User]
) -> None:
    nurse = login_as(Role.NURSE)
    infusion_session = open_session_for(make_patient(), nurse, team["clinician"])
    response = client.post(
        f"/sessions/{infusion_session.id}/end",
        data={"discharged_at": local_text(utcnow()), "discharged_with": "", "version": "1"},
    )
    assert response.status_code == 422
    assert "Enter who the patient left with." in response.get_data(as_text=True)
    _db.session.expire_all()
    assert _db.session.get(InfusionSession, infusion_session.id).discharged_at is None


def test_signed_session_refuses_discharge(
    client: FlaskClient, login_as: Callable[..., User], team: dict[str, User]
) -> None:
    nurse = login_as(Role.NURSE)
    infusion_session = open_session_for(make_patient(), nurse, team["clinician"])
    client.get(f"/sessions/{infusion_session.id}")
    sign_in_db(infusion_session.id)
    response = client.post(
        f"/sessions/{infusion_session.id}/end",
        data={"discharged_at": local_text(utcnow()), "discharged_with": "John"},
    )
    assert response.status_code == 409
    assert "signed and locked" in response.get_data(as_text=True)
    _db.session.expire_all()
    assert _db.session.get(InfusionSession, infusion_session.id).discharged_with is None
    assert audit_actions("session_ended") == []


def test_times_are_shown_in_the_clinic_zone(
    client: FlaskClient, login_as: Callable[..., User], team: dict[str, User]
) -> None:
    nurse = login_as(Role.NURSE)
    started = datetime(2026, 1, 15, 15, 0, tzinfo=UTC)  # 10:00 in New York (EST)
    infusion_session = open_session_for(
        make_patient(), nurse, team["clinician"], started_at=started
    )
    html = client.get(f"/sessions/{infusion_session.id}").get_data(as_text=True)
    assert "2026-01-15 10:00" in html


def test_a_second_discharge_entry_from_a_stale_chart_is_refused_keeping_the_input(
    client: FlaskClient, login_as: Callable[..., User], team: dict[str, User]
) -> None:
    nurse = login_as(Role.NURSE)
    infusion_session = open_session_for(make_patient(), nurse, team["clinician"])
    loaded = client.get(f"/sessions/{infusion_session.id}").get_data(as_text=True)
    stale_version = input_value(loaded, "version")
    left = local_text(minute(utcnow()))
    first = client.post(
        f"/sessions/{infusion_session.id}/end",
        data={"discharged_at": left, "discharged_with": "Anna (sister)", "version": stale_version},
    )
    assert first.status_code == 302

    second = client.post(
        f"/sessions/{infusion_session.id}/end",
        data={"discharged_at": left, "discharged_with": "Bob (friend)", "version": stale_version},
    )

    page = second.get_data(as_text=True)
    assert second.status_code == 422
    assert "Someone else changed this session" in page and "Anna (sister)" in page
    assert 'value="Bob (friend)"' in page
    _db.session.expire_all()
    assert _db.session.get(InfusionSession, infusion_session.id).discharged_with == "Anna (sister)"


def test_a_discharge_posted_without_its_version_is_refused(
    client: FlaskClient, login_as: Callable[..., User], team: dict[str, User]
) -> None:
    nurse = login_as(Role.NURSE)
    infusion_session = open_session_for(make_patient(), nurse, team["clinician"])

    response = client.post(
        f"/sessions/{infusion_session.id}/end",
        data={"discharged_at": local_text(minute(utcnow())), "discharged_with": "Bob"},
    )

    assert response.status_code == 422
    _db.session.expire_all()
    assert _db.session.get(InfusionSession, infusion_session.id).discharged_with is None


def test_a_double_tapped_discharge_is_recorded_once_without_a_false_warning(
    client: FlaskClient, login_as: Callable[..., User], team: dict[str, User]
) -> None:
    nurse = login_as(Role.NURSE)
    infusion_session = open_session_for(make_patient(), nurse, team["clinician"])
    page = client.get(f"/sessions/{infusion_session.id}").get_data(as_text=True)
    form = {
        name: input_value(page, name)
        for name in ("discharged_at-date", "discharged_at", "time_shown", "time_edited", "version")
    }
    form["discharged_with"] = "Anna"

    answers = [client.post(f"/sessions/{infusion_session.id}/end", data=form) for _ in range(2)]

    assert [a.status_code for a in answers] == [302, 302]
    assert len(audit_actions("session_ended")) == 1


def test_correcting_the_driver_keeps_the_recorded_discharge_time(
    client: FlaskClient, login_as: Callable[..., User], team: dict[str, User]
) -> None:
    nurse = login_as(Role.NURSE)
    infusion_session = open_session_for(make_patient(), nurse, team["clinician"])
    left = minute(utcnow()) - timedelta(minutes=20)
    client.post(
        f"/sessions/{infusion_session.id}/end",
        data={"discharged_at": local_text(left), "discharged_with": "Anna", "version": "1"},
    )
    page = client.get(f"/sessions/{infusion_session.id}").get_data(as_text=True)
    form = {
        name: input_value(page, name)
        for name in ("discharged_at-date", "discharged_at", "time_shown", "time_edited", "version")
    }

    client.post(
        f"/sessions/{infusion_session.id}/end", data={**form, "discharged_with": "Anna Berg"}
    )

    _db.session.expire_all()
    stored = _db.session.get(InfusionSession, infusion_session.id)
    assert (stored.discharged_at, stored.discharged_with) == (left, "Anna Berg")


def test_correcting_the_driver_from_a_browser_running_the_time_script_keeps_the_time(
    client: FlaskClient, login_as: Callable[..., User], team: dict[str, User]
) -> None:
    # The form shows the recorded time with no shown time; a stray "untouched" mark (what the
    # page's script sets on a field it follows) must not turn it into the time of the correction.
    nurse = login_as(Role.NURSE)
    infusion_session = open_session_for(make_patient(), nurse, team["clinician"])
    left = minute(utcnow()) - timedelta(minutes=20)
    client.post(
        f"/sessions/{infusion_session.id}/end",
        data={"discharged_at": local_text(left), "discharged_with": "Anna", "version": "1"},
    )
    page = client.get(f"/sessions/{infusion_session.id}").get_data(as_text=True)
    action = f'action="/sessions/{infusion_session.id}/end"'
    end_form = page[page.index(action) : page.index("</form>", page.index(action))]
    names = ("discharged_at-date", "discharged_at", "time_shown", "version")
    form = {name: input_value(end_form, name) for name in names}
    assert form["time_shown"] == ""

    client.post(
        f"/sessions/{infusion_session.id}/end",
        data={**form, "time_edited": "false", "discharged_with": "Anna Berg"},
    )

    _db.session.expire_all()
    stored = _db.session.get(InfusionSession, infusion_session.id)
    assert (stored.discharged_at, stored.discharged_with) == (left, "Anna Berg")


def test_opening_a_session_with_a_key_used_for_another_patient_is_refused(
    client: FlaskClient, login_as: Callable[..., User], team: dict[str, User]
) -> None:
    nurse = login_as(Role.NURSE)
    first, second = make_patient(), make_patient()
    course = ready_to_open(first, team["clinician"])
    second_course = ready_to_open(second, team["clinician"])
    form = {
        "course_id": str(course.id),
        "indication": "depression",
        "route": "iv",
        "attending_clinician_id": str(team["clinician"].id),
        "nurse_id": str(nurse.id),
        "started_at": local_text(minute(utcnow())),
        "submission_key": "one-key-two-patients",
    }
    assert client.post(f"/sessions/new?patient={first.id}", data=form).status_code == 302

    response = client.post(
        f"/sessions/new?patient={second.id}", data={**form, "course_id": str(second_course.id)}
    )

    assert response.status_code == 422
    assert "This form had already been used" in response.get_data(as_text=True)
    sessions = _db.session.scalars(sa.select(InfusionSession)).all()
    assert [s.patient_id for s in sessions] == [first.id]
