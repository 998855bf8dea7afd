"""Route profiles (issue 14): T+0 from the first treatment, the named checkpoints, and the
minimum observation after the last treatment, before which a discharge needs a clinician's
override with a reason."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import current_app
from flask.testing import FlaskClient

from clinic.auth.models import Role, User
from clinic.clinic_time import to_local
from clinic.database import utcnow
from clinic.extensions import db as _db
from clinic.orders.models import OrderKind
from clinic.sessions.chart import administrations_of, monitoring_of
from clinic.sessions.digest import canonical_content
from clinic.sessions.entries import ChartError
from clinic.sessions.models import (
    Administration,
    AdministrationPurpose,
    InfusionSession,
    Method,
    Route,
)
from clinic.sessions.route_profiles import (
    CheckpointStatus,
    checkpoint_states,
    observation,
    route_profile,
)
from clinic.sessions.services import administrations as administrations_services
from clinic.sessions.services import discharge as discharge_services
from clinic.sessions.services.administrations import AdministrationDetails
from clinic.sessions.vitals import first_dosing_time
from tests.factories import (
    make_patient,
    open_session_for,
    order_for,
    record_administration,
    record_monitoring,
)
from tests.helpers import audit_actions, local_text, minute


@pytest.fixture
def esketamine(login_as: Callable[..., User], make_user: Callable[..., User]) -> dict[str, Any]:
    """A nurse signed in on an intranasal esketamine session started 150 minutes ago, with two
    devices given from T+0 = start + 5 (the second 5 minutes later)."""
    nurse = login_as(Role.NURSE)
    clinician = make_user(Role.CLINICIAN, full_name="Dr Override")
    start = minute(utcnow()) - timedelta(minutes=150)
    infusion_session = open_session_for(
        make_patient(), nurse, clinician, route=Route.INTRANASAL, started_at=start
    )
    t_zero = start + timedelta(minutes=5)
    for offset in (0, 5):
        record_administration(
            infusion_session,
            nurse,
            "28",
            "mg",
            method=Method.SPRAY,
            drug="Esketamine",
            started_at=t_zero + timedelta(minutes=offset),
        )
    return {
        "nurse": nurse,
        "clinician": clinician,
        "session": infusion_session,
        "t_zero": t_zero,
        "last_dose": t_zero + timedelta(minutes=5),
    }


def give_rescue(
    infusion_session: InfusionSession, user: User, at: datetime, drug: str = "Ondansetron"
) -> Administration:
    """A PRN medicine given through the service, as the chart's form stores it."""
    order = order_for(
        infusion_session,
        drug,
        "4",
        "mg",
        method=Method.INJECTION,
        kind=OrderKind.PRN,
        indication="nausea",
    )
    written = administrations_services.record_administration(
        user,
        infusion_session.id,
        AdministrationDetails(
            drug=drug,
            route=Route.IV,
            method=Method.INJECTION,
            dose_amount=Decimal(4),
            dose_unit="mg",
            rate_amount=None,
            rate_unit=None,
            started_at=at,
            ended_at=None,
            site="",
            lot_number="",
            ordering_clinician_id=None,
            note="",
            order_id=order.id,
        ),
        None,
    )
    _db.session.commit()
    return _db.session.get(Administration, written.entry.id)


def post_discharge(
    client: FlaskClient, infusion_session: InfusionSession, at: datetime, **extra: str
) -> Any:
    _db.session.refresh(infusion_session)
    return client.post(
        f"/sessions/{infusion_session.id}/end",
        data={
            "discharged_at": local_text(at),
            "time_edited": "true",
            "discharged_with": "Sam Doe",
            "version": str(infusion_session.version),
            **extra,
        },
    )


def hhmm(moment: datetime) -> str:
    return to_local(moment).strftime("%H:%M")


# --- T+0 and purposes ---------------------------------------------------------------------------


def test_a_rescue_medicine_does_not_move_t_zero(charting: dict[str, Any]) -> None:
    infusion_session, nurse = charting["session"], charting["nurse"]
    rescue = give_rescue(infusion_session, nurse, charting["start"] + timedelta(minutes=2))
    treatment = record_administration(
        infusion_session, nurse, started_at=charting["start"] + timedelta(minutes=10)
    )

    assert rescue.purpose == AdministrationPurpose.RESCUE
    assert treatment.purpose == AdministrationPurpose.TREATMENT
    assert first_dosing_time(administrations_of(infusion_session.id)) == treatment.started_at
    rescued, treated = audit_actions("administration_recorded")
    assert json.loads(rescued.changes)["purpose"] == [None, "rescue"]
    assert json.loads(treated.changes)["purpose"] == [None, "treatment"]


def test_a_rescue_medicine_does_not_start_the_observation_clock(
    esketamine: dict[str, Any],
) -> None:
    infusion_session = esketamine["session"]
    give_rescue(
        infusion_session, esketamine["nurse"], esketamine["last_dose"] + timedelta(minutes=60)
    )

    profile = route_profile(current_app.config["ROUTE_PROFILES"], "intranasal")
    kept = observation(profile, administrations_of(infusion_session.id))
    assert kept.ends_at == esketamine["last_dose"] + timedelta(minutes=120)


def test_the_flowsheet_counts_t_plus_from_the_first_treatment(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    infusion_session, nurse = charting["session"], charting["nurse"]
    give_rescue(infusion_session, nurse, charting["start"] + timedelta(minutes=2))
    treatment = record_administration(
        infusion_session, nurse, started_at=charting["start"] + timedelta(minutes=10)
    )
    record_monitoring(
        infusion_session, nurse, charting["start"] + timedelta(minutes=20), heart_rate=80
    )
    html = client.get(f"/sessions/{infusion_session.id}").get_data(as_text=True)
    assert f"first treatment administration ({hhmm(treatment.started_at)})" in html
    assert 'data-testid="rescue"' in html


# --- the minimum observation ---------------------------------------------------------------------


def test_discharge_refused_at_t_plus_105_for_esketamine(
    client: FlaskClient, esketamine: dict[str, Any]
) -> None:
    infusion_session = esketamine["session"]
    response = post_discharge(
        client, infusion_session, esketamine["t_zero"] + timedelta(minutes=105)
    )

    assert response.status_code == 422
    page = response.get_data(as_text=True)
    until = hhmm(esketamine["last_dose"] + timedelta(minutes=120))
    assert f"120 minutes of observation after the last treatment, until {until}" in page
    assert 'value="Sam Doe"' in page  # what was typed is kept
    _db.session.expire_all()
    assert _db.session.get(InfusionSession, infusion_session.id).discharged_at is None
    assert audit_actions("session_ended") == []


def test_discharge_accepted_once_the_minimum_observation_is_kept(
    client: FlaskClient, esketamine: dict[str, Any]
) -> None:
    infusion_session = esketamine["session"]
    at = esketamine["last_dose"] + timedelta(minutes=120)
    response = post_discharge(client, infusion_session, at)

    assert response.status_code == 302
    _db.session.expire_all()
    stored = _db.session.get(InfusionSession, infusion_session.id)
    assert stored.discharged_at == at
    assert stored.discharge_override_reason is None


def test_a_nurse_cannot_override_the_minimum_observation(
    client: FlaskClient, esketamine: dict[str, Any]
) -> None:
    response = post_discharge(
        client,
        esketamine["session"],
        esketamine["t_zero"] + timedelta(minutes=105),
        override_reason="Patient insists",
    )
    assert response.status_code == 422
    assert "Only a clinician may override" in response.get_data(as_text=True)
    assert audit_actions("session_ended") == []


def test_a_clinicians_override_with_a_reason_allows_an_early_discharge_audited_and_shown(
    client: FlaskClient, esketamine: dict[str, Any]
) -> None:
    infusion_session = esketamine["session"]
    clinician = esketamine["clinician"]
    discharge_services.end_session(
        clinician,
        infusion_session.id,
        esketamine["t_zero"] + timedelta(minutes=105),
        "Sam Doe",
        expected_version=infusion_session.version,
        override_reason="Assessed at the chair: fully recovered, escort waiting",
    )
    _db.session.commit()

    stored = _db.session.get(InfusionSession, infusion_session.id)
    assert stored.discharge_override_by_id == clinician.id
    [event] = audit_actions("session_ended")
    assert "fully recovered" in event.changes
    for page in (f"/sessions/{infusion_session.id}", f"/sessions/{infusion_session.id}/print"):
        html = client.get(page).get_data(as_text=True)
        assert 'data-testid="discharge-override"' in html
        assert "fully recovered, escort waiting" in html and "Dr Override" in html


def test_an_override_needs_a_reason(esketamine: dict[str, Any]) -> None:
    infusion_session = esketamine["session"]
    with pytest.raises(ChartError) as refused:
        discharge_services.end_session(
            esketamine["clinician"],
            infusion_session.id,
            esketamine["t_zero"] + timedelta(minutes=105),
            "Sam Doe",
            expected_version=infusion_session.version,
            override_reason="   ",
        )
    assert refused.value.field == "discharged_at"


def test_discharge_refused_while_the_infusion_has_no_end(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    infusion_session = charting["session"]
    record_administration(
        infusion_session, charting["nurse"], started_at=charting["start"] + timedelta(minutes=5)
    )
    response = post_discharge(client, infusion_session, minute(utcnow()))
    assert response.status_code == 422
    assert "The infusion has no end recorded" in response.get_data(as_text=True)


def test_an_iv_infusion_needs_30_minutes_after_its_end(charting: dict[str, Any]) -> None:
    infusion_session = charting["session"]
    start = charting["start"]  # 30 minutes ago
    record_administration(
        infusion_session, charting["nurse"], started_at=start, ended_at=start + timedelta(minutes=1)
    )
    with pytest.raises(ChartError, match="30 minutes of observation"):
        discharge_services.end_session(
            charting["nurse"],
            infusion_session.id,
            start + timedelta(minutes=30),
            "Sam Doe",
            expected_version=infusion_session.version,
        )
    discharge_services.end_session(
        charting["nurse"],
        infusion_session.id,
        start + timedelta(minutes=31),
        "Sam Doe",
        expected_version=infusion_session.version,
    )


def test_a_session_without_treatment_is_discharged_without_waiting(
    charting: dict[str, Any],
) -> None:
    infusion_session = charting["session"]
    discharge_services.end_session(
        charting["nurse"],
        infusion_session.id,
        charting["start"] + timedelta(minutes=1),
        "Sam Doe",
        expected_version=infusion_session.version,
    )
    _db.session.commit()
    assert _db.session.get(InfusionSession, infusion_session.id).discharged_at is not None


@pytest.mark.parametrize(
    "app_config",
    [{"ROUTE_PROFILES": {"default": {"observe_minutes": 200, "checkpoints": []}}}],
)
def test_the_minimum_observation_comes_from_configuration(
    client: FlaskClient, esketamine: dict[str, Any], app_config: dict[str, Any]
) -> None:
    at = esketamine["last_dose"] + timedelta(minutes=130)
    response = post_discharge(client, esketamine["session"], at)
    assert response.status_code == 422
    assert "200 minutes of observation" in response.get_data(as_text=True)


# --- checkpoints --------------------------------------------------------------------------------


def states(infusion_session: InfusionSession, now: datetime) -> dict[str, CheckpointStatus]:
    profile = route_profile(current_app.config["ROUTE_PROFILES"], infusion_session.route.value)
    _db.session.expire_all()
    stored = _db.session.get(InfusionSession, infusion_session.id)
    found = checkpoint_states(
        profile,
        stored,
        monitoring_of(infusion_session.id),
        administrations_of(infusion_session.id),
        now,
    )
    return {state.name: state.status for state in found}


def test_esketamine_checkpoints_done_due_and_missed(
    client: FlaskClient, esketamine: dict[str, Any]
) -> None:
    infusion_session, nurse, t_zero = (
        esketamine["session"],
        esketamine["nurse"],
        esketamine["t_zero"],
    )
    record_monitoring(infusion_session, nurse, t_zero - timedelta(minutes=2), systolic_bp=128)
    found = states(infusion_session, t_zero + timedelta(minutes=45))
    assert found["BP before dosing"] == CheckpointStatus.DONE
    assert found["BP at T+40"] == CheckpointStatus.DUE
    assert found["BP before completion"] == CheckpointStatus.DUE

    assert states(infusion_session, t_zero + timedelta(minutes=51))["BP at T+40"] == (
        CheckpointStatus.MISSED
    )
    record_monitoring(infusion_session, nurse, t_zero + timedelta(minutes=42), systolic_bp=150)
    assert states(infusion_session, utcnow())["BP at T+40"] == CheckpointStatus.DONE

    html = client.get(f"/sessions/{infusion_session.id}").get_data(as_text=True)
    assert 'data-testid="checkpoint" data-status="done"' in html
    until = hhmm(esketamine["last_dose"] + timedelta(minutes=120))
    assert f"Observation may end at <strong>{until}</strong>" in html


def test_a_baseline_missed_once_dosing_began_without_one(esketamine: dict[str, Any]) -> None:
    found = states(esketamine["session"], utcnow())
    assert found["BP before dosing"] == CheckpointStatus.MISSED


def test_the_iv_vitals_interval_is_shorter_in_the_first_40_minutes(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    infusion_session, nurse = charting["session"], charting["nurse"]
    now = minute(utcnow())
    record_monitoring(infusion_session, nurse, now - timedelta(minutes=12), heart_rate=80)
    record_administration(infusion_session, nurse, started_at=now - timedelta(minutes=10))
    html = client.get(f"/sessions/{infusion_session.id}").get_data(as_text=True)
    due = hhmm(now - timedelta(minutes=12) + timedelta(minutes=10))
    assert f"due at {due}" in html


# --- the signed content -------------------------------------------------------------------------


def test_a_treatment_purpose_is_left_out_of_the_signed_content_a_rescue_is_signed(
    charting: dict[str, Any],
) -> None:
    """Sessions signed before purposes existed keep their digest: every administration of
    theirs is a treatment, which the content leaves out; a rescue is in it."""
    infusion_session, nurse = charting["session"], charting["nurse"]
    record_administration(infusion_session, nurse, started_at=charting["start"])
    give_rescue(infusion_session, nurse, charting["start"] + timedelta(minutes=3))
    treatment, rescue = canonical_content(infusion_session.id)["administrations"]
    assert "purpose" not in treatment
    assert rescue["purpose"] == "rescue"
