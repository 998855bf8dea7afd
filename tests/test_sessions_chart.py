"""Opening a session and the chart: roles, defaults, audit, loading, signed chart, discharge.

The helpers at the top are shared by tests/test_administrations.py and tests/test_monitoring.py.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from clinic.audit.models import AuditEvent
from clinic.auth.models import Role, User
from clinic.clinic_time import to_local
from clinic.database import utcnow
from clinic.extensions import db as _db
from clinic.patients.models import Indication, Patient, Sex
from clinic.sessions import services
from clinic.sessions.models import (
    Administration,
    InfusionSession,
    Method,
    MonitoringEntry,
    Route,
    SessionStatus,
)

# --- shared helpers ----------------------------------------------------------------------------


def local_text(moment: datetime) -> str:
    """A UTC moment as the chart's datetime-local input expects it (clinic time)."""
    return to_local(moment).strftime("%Y-%m-%dT%H:%M")


def minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def make_patient(indication: Indication = Indication.FIBROMYALGIA) -> Patient:
    patient = Patient(
        mrn=f"MRN-{uuid.uuid4().hex[:8]}",
        family_name="Doe",
        given_name="Jane",
        date_of_birth=date(1980, 5, 17),
        sex=Sex.FEMALE,
        allergies="Penicillin",
        indication=indication,
    )
    _db.session.add(patient)
    _db.session.commit()
    return patient


def open_session_for(
    patient: Patient,
    nurse: User,
    clinician: User,
    *,
    route: Route = Route.IV,
    started_at: datetime | None = None,
) -> InfusionSession:
    written = services.open_session(
        nurse,
        patient.id,
        services.SessionDetails(
            indication=patient.indication,
            route=route,
            attending_clinician_id=clinician.id,
            nurse_id=nurse.id,
            started_at=started_at or minute(utcnow()) - timedelta(minutes=30),
            consent_on_file=True,
            fasting_confirmed=True,
            weight_kg=Decimal("70.5"),
        ),
        None,
    )
    _db.session.commit()
    return _db.session.get(InfusionSession, written.entry.id)


def add_administration(
    infusion_session: InfusionSession,
    user: User,
    *,
    started_at: datetime,
    method: Method = Method.INFUSION,
    dose: str = "0.5",
    unit: str = "mg/kg",
) -> Administration:
    written = services.record_administration(
        user,
        infusion_session.id,
        services.AdministrationDetails(
            drug="Ketamine hydrochloride",
            route=infusion_session.route,
            method=method,
            dose_amount=Decimal(dose),
            dose_unit=unit,
            rate_amount=None,
            rate_unit=None,
            started_at=started_at,
            ended_at=None,
            site="",
            lot_number="",
            ordering_clinician_id=None,
            note="",
        ),
        None,
    )
    _db.session.commit()
    return _db.session.get(Administration, written.entry.id)


def sign_in_db(infusion_session_id: int) -> None:
    """Sign the session behind the test client's back, as a clinician on another tablet would."""
    _db.session.execute(
        sa.update(InfusionSession)
        .where(InfusionSession.id == infusion_session_id)
        .values(status=SessionStatus.SIGNED, version=InfusionSession.version + 1)
    )
    _db.session.commit()
    _db.session.expire_all()


def input_value(html: str, name: str) -> str | None:
    """The value attribute of the input with this name ('' when it has none); None if absent."""
    match = re.search(rf"<input[^>]*\bname=\"{re.escape(name)}\"[^>]*>", html)
    if match is None:
        return None
    value = re.search(r'\bvalue="([^"]*)"', match.group(0))
    return value.group(1) if value else ""


def submission_key(html: str, form_action: str) -> str:
    """The one-time key of the form posting to this action, as the browser would send it."""
    start = re.search(rf'action="{re.escape(form_action)}["#]', html)
    assert start, f"no form posting to {form_action}"
    form = html[start.start() : html.index("</form>", start.start())]
    key = re.search(r'<input[^>]*name="(?:[\w-]+-)?submission_key"[^>]*>', form)
    assert key, "form has no one-time key"
    key = re.search(r'value="([^"]+)"', key.group(0))
    assert key, "form has no one-time key"
    return key.group(1)


def audit_actions(action: str) -> list[AuditEvent]:
    return list(_db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)))


@contextmanager
def count_queries() -> Iterator[list[str]]:
    statements: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(_db.engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        sa.event.remove(_db.engine, "before_cursor_execute", before)


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
    started = minute(utcnow()) - timedelta(minutes=5)
    response = client.post(
        f"/sessions/new?patient={patient.id}",
        data={
            "indication": "depression",
            "route": "intranasal",
            "attending_clinician_id": team["clinician"].id,
            "nurse_id": nurse.id,
            "started_at": local_text(started),
            "consent_on_file": "y",
            "fasting_confirmed": "y",
            "weight_kg": "72.40",
            "submission_key": "open-1",
        },
    )
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
    again = client.post(
        f"/sessions/new?patient={patient.id}",
        data={
            "indication": "depression",
            "route": "intranasal",
            "attending_clinician_id": team["clinician"].id,
            "nurse_id": nurse.id,
            "started_at": local_text(started),
            "submission_key": "open-1",
        },
    )
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
    started = input_value(html, "started_at")
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

    add_administration(infusion_session, nurse, started_at=start + timedelta(minutes=5))
    services.record_monitoring(
        nurse,
        infusion_session.id,
        services.MonitoringDetails(phase="baseline", occurred_at=start, heart_rate=70),
        None,
    )
    _db.session.commit()
    few = chart_queries()
    for n in range(10):
        administration = add_administration(
            infusion_session, team["other_nurse"], started_at=start + timedelta(minutes=10 + n)
        )
        services.record_infusion_event(
            nurse,
            infusion_session.id,
            administration.id,
            services.InfusionEventDetails(
                kind="started", occurred_at=start + timedelta(minutes=10 + n)
            ),
            None,
        )
        services.record_monitoring(
            team["other_nurse"],
            infusion_session.id,
            services.MonitoringDetails(
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
    add_administration(
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
        data={"discharged_at": local_text(left), "discharged_with": "  John Doe (husband) "},
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
        data={"discharged_at": local_text(utcnow()), "discharged_with": ""},
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
