"""Rules the chart's services hold themselves, because no form holds them or the form's choices
keep a bad value from ever reaching the service: a discharge before the session started,
diastolic at or above systolic, an event on a voided infusion, a score outside its instrument's
range. Each is checked just past and on its boundary, and a refusal must store nothing.

The services are called directly (STYLE.md 18: a rule that needs precise setup); where the chart
can reach the rule, a post shows the person is told rather than given a server error.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from clinic.auth.models import Role
from clinic.extensions import db
from clinic.sessions.entries import ChartError
from clinic.sessions.models import (
    InfusionEvent,
    InfusionEventKind,
    InfusionSession,
    Instrument,
    MonitoringEntry,
    Phase,
    Score,
    ScoreTiming,
)
from clinic.sessions.services import discharge as discharge_services
from clinic.sessions.services import scores as score_services
from clinic.sessions.services.administrations import InfusionEventDetails, record_infusion_event
from clinic.sessions.services.monitoring import MonitoringDetails, record_monitoring
from clinic.sessions.services.voiding import void_entry
from tests.factories import make_patient, open_session_for, record_administration
from tests.helpers import audit_actions, local_text


@pytest.fixture
def chart(login_as: Any, make_user: Any) -> dict[str, Any]:
    """A nurse signed in on an open session that started 30 minutes ago (tests/factories.py)."""
    nurse = login_as(Role.NURSE)
    clinician = make_user(Role.CLINICIAN)
    infusion_session = open_session_for(make_patient(), nurse, clinician)
    return {"nurse": nurse, "clinician": clinician, "session": infusion_session}


def stored(model: Any) -> list[Any]:
    db.session.rollback()  # read what was committed, as the next request would
    return list(db.session.scalars(sa.select(model)))


# --- discharge before the session started ---------------------------------------------------


def end_session(chart: dict[str, Any], minutes_after_start: int) -> None:
    infusion_session = chart["session"]
    discharge_services.end_session(
        chart["nurse"],
        infusion_session.id,
        infusion_session.started_at + timedelta(minutes=minutes_after_start),
        "Sam Doe",
        expected_version=infusion_session.version,
    )


def test_service_refuses_a_discharge_before_the_session_started(chart: dict[str, Any]) -> None:
    with pytest.raises(ChartError) as refused:
        end_session(chart, -1)

    assert refused.value.field == "discharged_at"
    assert "before the session started" in refused.value.message
    [infusion_session] = stored(InfusionSession)
    assert infusion_session.discharged_at is None and infusion_session.discharged_with is None
    assert audit_actions("session_ended") == []


def test_service_accepts_a_discharge_at_the_moment_the_session_started(
    chart: dict[str, Any],
) -> None:
    end_session(chart, 0)
    db.session.commit()

    [infusion_session] = stored(InfusionSession)
    assert infusion_session.discharged_at == chart["session"].started_at
    assert len(audit_actions("session_ended")) == 1


def test_chart_refuses_a_discharge_time_before_the_start_with_a_message(
    client: FlaskClient, chart: dict[str, Any]
) -> None:
    """The discharge form checks only that the time is not in the future: the service tells."""
    infusion_session = chart["session"]
    before = infusion_session.started_at - timedelta(minutes=5)

    response = client.post(
        f"/sessions/{infusion_session.id}/end",
        data={
            "discharged_at": local_text(before),
            "time_edited": "true",
            "discharged_with": "Sam Doe",
            "version": str(infusion_session.version),
        },
    )

    assert response.status_code == 422
    assert "The discharge time is before the session started." in response.get_data(as_text=True)
    [infusion_session] = stored(InfusionSession)
    assert infusion_session.discharged_at is None
    assert audit_actions("session_ended") == []


# --- diastolic at or above systolic ---------------------------------------------------------


def record_blood_pressure(chart: dict[str, Any], systolic: int, diastolic: int) -> Any:
    details = MonitoringDetails(
        phase=Phase.DURING,
        occurred_at=chart["session"].started_at + timedelta(minutes=5),
        systolic_bp=systolic,
        diastolic_bp=diastolic,
    )
    return record_monitoring(chart["nurse"], chart["session"].id, details, None)


@pytest.mark.parametrize(("systolic", "diastolic"), [(120, 120), (120, 121), (41, 200)])
def test_service_refuses_diastolic_at_or_above_systolic(
    chart: dict[str, Any], systolic: int, diastolic: int
) -> None:
    with pytest.raises(ChartError) as refused:
        record_blood_pressure(chart, systolic, diastolic)

    assert refused.value.field == "diastolic_bp"
    assert refused.value.message == "Diastolic must be below systolic."
    assert stored(MonitoringEntry) == []
    assert audit_actions("monitoring_recorded") == []


def test_service_accepts_diastolic_one_below_systolic(chart: dict[str, Any]) -> None:
    record_blood_pressure(chart, 120, 119)
    db.session.commit()

    [entry] = stored(MonitoringEntry)
    assert (entry.systolic_bp, entry.diastolic_bp) == (120, 119)


# --- infusion events on a voided administration ---------------------------------------------


def voided_infusion(chart: dict[str, Any]) -> Any:
    infusion_session = chart["session"]
    infusion = record_administration(
        infusion_session, chart["nurse"], started_at=infusion_session.started_at
    )
    void_entry(chart["nurse"], infusion_session.id, "administration", infusion.id, "wrong patient")
    db.session.commit()
    return infusion


def test_service_refuses_an_infusion_event_on_a_voided_administration(
    chart: dict[str, Any],
) -> None:
    infusion = voided_infusion(chart)
    details = InfusionEventDetails(
        kind=InfusionEventKind.PAUSED,
        occurred_at=chart["session"].started_at + timedelta(minutes=5),
    )

    with pytest.raises(ChartError, match="voided"):
        record_infusion_event(chart["nurse"], chart["session"].id, infusion.id, details, None)

    assert stored(InfusionEvent) == []
    assert audit_actions("infusion_event_recorded") == []


def test_chart_refuses_an_event_posted_for_an_infusion_voided_meanwhile(
    client: FlaskClient, chart: dict[str, Any]
) -> None:
    """The chart offers no event form for a voided infusion; one loaded before the void can
    still be posted, and the record refuses it."""
    infusion = voided_infusion(chart)
    prefix = f"event-{infusion.id}-"

    response = client.post(
        f"/sessions/{chart['session'].id}/administrations/{infusion.id}/events",
        data={f"{prefix}kind": "paused", f"{prefix}occurred_at": local_text(infusion.started_at)},
    )

    assert response.status_code == 409
    assert "This administration was voided; it takes no more events." in response.get_data(
        as_text=True
    )
    assert stored(InfusionEvent) == []


# --- scores outside their instrument's range ------------------------------------------------


def record_pain(chart: dict[str, Any], score: Any) -> Any:
    return score_services.record_pain(
        chart["nurse"],
        chart["session"].id,
        timing=ScoreTiming.BEFORE,
        occurred_at=chart["session"].started_at,
        score=score,
    )


def record_phq9(chart: dict[str, Any], answers: list[Any]) -> Any:
    return score_services.record_phq9(
        chart["nurse"],
        chart["session"].id,
        timing=ScoreTiming.BEFORE,
        occurred_at=chart["session"].started_at,
        answers=answers,
    )


# Pain NRS is 0 (no pain) to 10 (worst imaginable), a whole number (REFERENCE.md "Scales").
@pytest.mark.parametrize("score", [-1, 11, True])
def test_service_refuses_a_pain_score_outside_0_to_10(chart: dict[str, Any], score: Any) -> None:
    with pytest.raises(ChartError) as refused:
        record_pain(chart, score)

    assert refused.value.field == "score"
    assert "0 (no pain) to 10 (worst imaginable)" in refused.value.message
    assert stored(Score) == []
    assert audit_actions("score_recorded") == []


@pytest.mark.parametrize("score", [0, 10])
def test_service_accepts_a_pain_score_on_the_ends_of_its_scale(
    chart: dict[str, Any], score: int
) -> None:
    record_pain(chart, score)
    db.session.commit()

    [stored_score] = stored(Score)
    assert (stored_score.instrument, stored_score.total) == (Instrument.PAIN_NRS, score)


# PHQ-9: nine items, each 0 to 3 (REFERENCE.md "Scales"). The service takes answers, not a total,
# so a total outside 0-27 can only come from an answer outside 0-3 or a wrong number of them.
@pytest.mark.parametrize(
    "answers",
    [
        pytest.param([3] * 8 + [4], id="an-answer-of-4"),
        pytest.param([0] * 8 + [-1], id="an-answer-of-minus-1"),
        pytest.param([3] * 10, id="ten-answers-totalling-30"),
        pytest.param([3] * 8, id="eight-answers"),
        pytest.param([3] * 8 + [True], id="a-boolean-answer"),
    ],
)
def test_service_refuses_phq9_answers_outside_the_instrument(
    chart: dict[str, Any], answers: list[Any]
) -> None:
    # Refused next to the item at fault (the tenth, or the first wrong or missing one).
    with pytest.raises(ChartError) as refused:
        record_phq9(chart, answers)

    assert refused.value.field in {"item9", "item10"}

    assert stored(Score) == []
    assert audit_actions("score_recorded") == []


@pytest.mark.parametrize(
    ("answers", "total", "item9_flag"), [([0] * 9, 0, False), ([3] * 9, 27, True)]
)
def test_service_accepts_phq9_totals_on_the_ends_of_its_range(
    chart: dict[str, Any], answers: list[int], total: int, item9_flag: bool
) -> None:
    record_phq9(chart, answers)
    db.session.commit()

    [stored_score] = stored(Score)
    assert (stored_score.instrument, stored_score.total) == (Instrument.PHQ9, total)
    assert stored_score.risk_flag is item9_flag
