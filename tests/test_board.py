"""Today's board (`/`): sessions of the day, those still running, and those awaiting signature."""

from __future__ import annotations

from datetime import timedelta

import pytest

from clinic.auth.models import Role
from clinic.database import utcnow
from clinic.extensions import db
from clinic.sessions.models import SessionStatus
from tests.factories import make_patient, open_session_for, record_vitals


@pytest.fixture
def team(make_user):
    return {"nurse": make_user(Role.NURSE), "clinician": make_user(Role.CLINICIAN)}


def test_board_lists_running_session_with_minutes_since_last_monitoring(client, login_as, team):
    patient = make_patient(family_name="Boardman")
    infusion_session = open_session_for(patient, team["nurse"], team["clinician"])
    record_vitals(infusion_session, team["nurse"], utcnow() - timedelta(minutes=5))
    login_as(Role.NURSE)

    html = client.get("/").get_data(as_text=True)

    assert "BOARDMAN, Jane" in html
    assert f"/sessions/{infusion_session.id}" in html
    assert "5 min ago" in html
    assert "Overdue" not in html


def test_board_flags_monitoring_overdue_after_the_schedule_interval(client, login_as, team):
    infusion_session = open_session_for(make_patient(), team["nurse"], team["clinician"])
    record_vitals(infusion_session, team["nurse"], utcnow() - timedelta(minutes=22))
    login_as(Role.CLINICIAN)

    html = client.get("/").get_data(as_text=True)

    assert "22 min ago" in html
    assert "Overdue" in html


def test_board_flags_a_running_session_without_any_monitoring(client, login_as, team):
    open_session_for(make_patient(), team["nurse"], team["clinician"])
    login_as(Role.NURSE)

    assert "No entry yet" in client.get("/").get_data(as_text=True)


def test_board_keeps_a_session_started_yesterday_while_it_is_in_progress(client, login_as, team):
    started = utcnow() - timedelta(days=2)
    infusion_session = open_session_for(
        make_patient(family_name="Oldrun"), team["nurse"], team["clinician"], started_at=started
    )
    login_as(Role.NURSE)

    html = client.get("/").get_data(as_text=True)

    assert html.count(f"/sessions/{infusion_session.id}") == 2  # running, and awaiting signature


def test_board_lists_unsigned_sessions_older_than_a_day_but_not_signed_ones(client, login_as, team):
    old = utcnow() - timedelta(days=3)
    unsigned = open_session_for(
        make_patient(family_name="Unsigned"), team["nurse"], team["clinician"], started_at=old
    )
    signed = open_session_for(
        make_patient(family_name="Signedoff"), team["nurse"], team["clinician"], started_at=old
    )
    signed.status = SessionStatus.SIGNED
    db.session.commit()
    login_as(Role.CLINICIAN)

    html = client.get("/").get_data(as_text=True)
    awaiting = html[html.index("Awaiting a clinician") :]

    assert f"/sessions/{unsigned.id}" in awaiting
    assert f"/sessions/{signed.id}" not in html


def test_admin_home_shows_staff_and_audit_links_and_no_clinical_board(client, login_as, team):
    open_session_for(make_patient(family_name="Hidden"), team["nurse"], team["clinician"])
    login_as(Role.ADMIN)

    html = client.get("/").get_data(as_text=True)

    assert "Staff accounts" in html and "Audit trail" in html
    assert "HIDDEN" not in html
