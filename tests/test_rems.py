"""The esketamine REMS monitoring form (/sessions/<id>/rems): the session's own record laid out
as the programme's form, never a second copy (correcting the chart corrects the form); the
ready-to-leave answer and the submission are the form's own, each audited; today's board lists
the forms due with the days left of 7; the patient record holds the REMS patient ID."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from clinic.auth.models import Role
from clinic.clinic_time import local_now
from clinic.database import utcnow
from clinic.extensions import db as _db
from clinic.sessions.models import (
    Dissociation,
    MonitoringEntry,
    Phase,
    Pregnancy,
    RemsForm,
    Route,
)
from clinic.sessions.services.rems import answer_ready_to_leave, mark_submitted, rems_forms_due
from clinic.sessions.services.screening import ScreeningDetails, record_screening
from clinic.sessions.services.voiding import void_entry
from tests.factories import insert_administration, make_patient, open_session_for
from tests.helpers import audit_actions


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.fixture
def esketamine(login_as, make_user):
    """An intranasal esketamine session started 3 hours ago: two devices 5 minutes apart,
    BP before, at T+40 and before discharge, a moment of sedation and of mild dissociation."""
    nurse = login_as(Role.NURSE)
    clinician = make_user(Role.CLINICIAN, full_name="Dr Rems")
    patient = make_patient()
    patient.rems_patient_id = "REMS-00042"
    start = utcnow().replace(second=0, microsecond=0) - timedelta(hours=3)
    infusion_session = open_session_for(
        patient, nurse, clinician, route=Route.INTRANASAL, started_at=start
    )
    first = start + timedelta(minutes=10)
    devices = [
        insert_administration(
            infusion_session.id,
            nurse.id,
            "28",
            route=Route.INTRANASAL,
            started_at=first + timedelta(minutes=5 * n),
            drug="Esketamine (Spravato) nasal spray",
            lot_number="LOT-ESK-1",
        )
        for n in range(2)
    ]

    def vitals(minutes: int, **values) -> MonitoringEntry:
        entry = MonitoringEntry(
            session_id=infusion_session.id,
            phase=Phase.DURING,
            occurred_at=first + timedelta(minutes=minutes),
            recorded_by_id=nurse.id,
            **values,
        )
        _db.session.add(entry)
        return entry

    vitals(-5, systolic_bp=128, diastolic_bp=80)
    vitals(20, sedation_moaas=4, dissociation=Dissociation.MILD)
    t40 = vitals(41, systolic_bp=152, diastolic_bp=92)
    vitals(125, systolic_bp=130, diastolic_bp=82, spo2=97)
    infusion_session.discharged_at = first + timedelta(minutes=130)
    infusion_session.discharged_with = "Sam Doe"
    _db.session.commit()
    return {
        "nurse": nurse,
        "clinician": clinician,
        "session": infusion_session,
        "devices": devices,
        "t40": t40,
        "patient": patient,
    }


def test_the_form_is_laid_out_from_the_chart(client, db, esketamine):
    session_id = esketamine["session"].id
    response = client.get(f"/sessions/{session_id}/rems")
    assert response.status_code == 200
    page = text_of(response.get_data(as_text=True))
    assert "REMS-00042" in page
    assert "LOT-ESK-1" in page
    assert "130 minutes" in page  # first device to discharge
    assert "152/92 mmHg" in page and "T+41 min" in page
    assert re.search(r"Sedation Yes MOAA/S 4", page)
    assert re.search(r"Dissociation Yes mild", page)
    assert re.search(r"Respiratory depression No", page)
    assert "First treatment Yes" in page
    assert "not yet answered" in page
    assert audit_actions("session_viewed")


def test_correcting_the_chart_corrects_the_form(client, db, esketamine):
    session_id = esketamine["session"].id
    void_entry(esketamine["nurse"], session_id, "monitoring", esketamine["t40"].id, "wrong patient")
    _db.session.commit()
    page = text_of(client.get(f"/sessions/{session_id}/rems").get_data(as_text=True))
    assert "152/92" not in page
    assert re.search(r"BP at about 40 minutes not recorded", page)


def test_the_concomitant_medicines_are_read_from_the_days_screening(client, db, esketamine):
    session = esketamine["session"]
    url = f"/sessions/{session.id}/rems"
    assert "No screening recorded" in text_of(client.get(url).get_data(as_text=True))
    record_screening(
        esketamine["nurse"],
        session.id,
        ScreeningDetails(
            occurred_at=session.started_at,
            pregnancy=Pregnancy.NOT_APPLICABLE,
            last_solid_food_at=None,
            last_clear_fluid_at=None,
            concomitant_medicines=["benzodiazepine", "psychostimulant"],
            escort_present=True,
            escort_name="Sam Doe",
            escort_relationship="Partner",
            escort_phone="555-0100",
        ),
        None,
        None,
    )
    _db.session.commit()
    page = text_of(client.get(url).get_data(as_text=True))
    assert "Benzodiazepine, Psychostimulant (from the day's screening)" in page


def test_ready_to_leave_is_answered_then_the_form_is_marked_submitted_and_audited(
    client, db, esketamine
):
    session_id = esketamine["session"].id
    refused = client.post(
        f"/sessions/{session_id}/rems/submitted",
        data={"submitted-submitted_on": local_now().date().isoformat()},
    )
    assert refused.status_code == 422
    assert "ready to leave first" in refused.get_data(as_text=True)

    bad = client.post(
        f"/sessions/{session_id}/rems/ready", data={"ready-ready_to_leave_minutes": "x"}
    )
    assert bad.status_code == 422
    assert 'id="ready-ready_to_leave_minutes-error"' in bad.get_data(as_text=True)

    saved = client.post(
        f"/sessions/{session_id}/rems/ready", data={"ready-ready_to_leave_minutes": "95"}
    )
    assert saved.status_code == 302 and saved.headers["Location"].endswith("/rems")
    [answered] = audit_actions("rems_ready_answered")
    assert json.loads(answered.changes)["ready_to_leave_minutes"] == [None, 95]

    future = (local_now().date() + timedelta(days=1)).isoformat()
    assert (
        client.post(
            f"/sessions/{session_id}/rems/submitted", data={"submitted-submitted_on": future}
        ).status_code
        == 422
    )
    today = local_now().date().isoformat()
    done = client.post(
        f"/sessions/{session_id}/rems/submitted", data={"submitted-submitted_on": today}
    )
    assert done.status_code == 302
    form = _db.session.scalar(sa.select(RemsForm).where(RemsForm.session_id == session_id))
    assert form.submitted_on.isoformat() == today and form.submitted_by_id == esketamine["nurse"].id
    [event] = audit_actions("rems_form_submitted")
    assert event.patient_id == esketamine["patient"].id
    page = text_of(client.get(f"/sessions/{session_id}/rems").get_data(as_text=True))
    assert f"Submitted on {today}" in page and "95 minutes" in page
    with pytest.raises(Exception, match="Already marked submitted"):
        mark_submitted(esketamine["nurse"], session_id, local_now().date())
    _db.session.rollback()


def test_an_iv_ketamine_session_has_no_rems_form(client, db, login_as, make_user):
    nurse = login_as(Role.NURSE)
    infusion_session = open_session_for(make_patient(), nurse, make_user(Role.CLINICIAN))
    insert_administration(infusion_session.id, nurse.id)
    page = client.get(f"/sessions/{infusion_session.id}/rems").get_data(as_text=True)
    assert "needs no REMS form" in page
    with pytest.raises(Exception, match="no REMS form"):
        answer_ready_to_leave(nurse, infusion_session.id, 90)
    _db.session.rollback()
    assert rems_forms_due() == []


def test_the_board_lists_forms_due_with_days_left_until_submitted(client, db, esketamine):
    session_id = esketamine["session"].id
    [due] = rems_forms_due()
    assert due.infusion_session.id == session_id
    expected = 7 - (local_now().date() - due.due_on + timedelta(days=7)).days
    assert due.days_left == expected
    board = client.get("/").get_data(as_text=True)
    assert 'data-testid="board-rems-due"' in board
    assert re.search(rf"{due.days_left} days? left of 7", text_of(board))
    answer_ready_to_leave(esketamine["nurse"], session_id, 90)
    mark_submitted(esketamine["nurse"], session_id, local_now().date())
    _db.session.commit()
    assert rems_forms_due() == []
    assert 'data-testid="board-rems-due"' not in client.get("/").get_data(as_text=True)


def test_the_patient_record_holds_the_rems_patient_id(client, db, login_as):
    login_as(Role.NURSE)
    patient = make_patient()
    page = client.get(f"/patients/{patient.id}/edit").get_data(as_text=True)
    assert 'name="rems_patient_id"' in page
