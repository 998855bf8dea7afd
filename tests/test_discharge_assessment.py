"""Discharge readiness (issue 14): a modified Aldrete with each item entered and the total shown,
the escort confirmed from the screening's record, the instruction version given and its
handout; a discharge below the configured total needs a clinician's override with a reason."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from clinic.database import utcnow
from clinic.extensions import db as _db
from clinic.sessions.entries import ChartError
from clinic.sessions.models import DischargeAssessment, InfusionSession, Signature
from clinic.sessions.services import discharge as discharge_services
from clinic.sessions.services.discharge_assessment import (
    AssessmentDetails,
    active_instructions,
    record_discharge_assessment,
)
from clinic.sessions.services.signoff import signature_matches
from tests.conftest import PASSWORD
from tests.factories import make_patient, make_ready_to_sign, open_session_for, sign
from tests.helpers import audit_actions, local_text, minute, submission_key
from tests.test_screening import screen


def assess(charting: dict[str, Any], *scores: int, escort: bool = True) -> DischargeAssessment:
    activity, respiration, circulation, consciousness, spo2 = scores
    saved = record_discharge_assessment(
        charting["nurse"],
        charting["session"].id,
        AssessmentDetails(
            occurred_at=minute(utcnow()) - timedelta(minutes=2),
            activity=activity,
            respiration=respiration,
            circulation=circulation,
            consciousness=consciousness,
            spo2=spo2,
            escort_confirmed=escort,
            instruction_id=active_instructions()[0].id,
        ),
        None,
    )
    _db.session.commit()
    return saved.entry


def discharge(charting: dict[str, Any], user: Any, **extra: Any) -> None:
    infusion_session = _db.session.get(InfusionSession, charting["session"].id)
    discharge_services.end_session(
        user,
        infusion_session.id,
        minute(utcnow()),
        "Sam Doe",
        expected_version=infusion_session.version,
        **extra,
    )
    _db.session.commit()


def test_the_total_is_the_sum_of_the_items_entered_and_shown(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    screen(charting)
    assessment = assess(charting, 2, 2, 1, 2, 2)
    assert assessment.total == 9
    [event] = audit_actions("discharge_assessed")
    assert json.loads(event.changes)["total"] == 9
    html = " ".join(
        client.get(f"/sessions/{charting['session'].id}").get_data(as_text=True).split()
    )
    assert "Modified Aldrete <strong>9</strong> / 10" in html
    assert "Escort confirmed: Sam Doe" in html
    assert "After your ketamine treatment (version 1)" in html


def test_discharge_refused_below_the_configured_score_without_an_override(
    charting: dict[str, Any],
) -> None:
    screen(charting)
    assess(charting, 2, 2, 1, 1, 2)
    with pytest.raises(ChartError, match="modified Aldrete total is 8, below 9"):
        discharge(charting, charting["nurse"])
    _db.session.rollback()
    discharge(charting, charting["clinician"], override_reason="Baseline activity limited")
    stored = _db.session.get(InfusionSession, charting["session"].id)
    assert stored.discharge_override_reason == "Baseline activity limited"


@pytest.mark.parametrize("app_config", [{"DISCHARGE_MIN_ALDRETE": 10}])
def test_the_discharge_score_comes_from_configuration(
    charting: dict[str, Any], app_config: dict[str, Any]
) -> None:
    screen(charting)
    assess(charting, 2, 2, 1, 2, 2)
    with pytest.raises(ChartError, match="below 10"):
        discharge(charting, charting["nurse"])


def test_a_discharge_at_the_score_is_accepted(charting: dict[str, Any]) -> None:
    screen(charting)
    assess(charting, 2, 2, 1, 2, 2)
    discharge(charting, charting["nurse"])
    assert _db.session.get(InfusionSession, charting["session"].id).discharged_at is not None


def test_the_escort_is_confirmed_only_from_the_screenings_record(
    charting: dict[str, Any],
) -> None:
    with pytest.raises(ChartError, match="No escort was recorded at screening") as refused:
        assess(charting, 2, 2, 2, 2, 2)
    assert refused.value.field == "escort_confirmed"
    _db.session.rollback()
    screen(charting, escort_present=False, escort_name="")
    with pytest.raises(ChartError, match="No escort was recorded at screening"):
        assess(charting, 2, 2, 2, 2, 2)


def test_an_item_outside_0_to_2_is_refused(charting: dict[str, Any]) -> None:
    screen(charting)
    with pytest.raises(ChartError) as refused:
        assess(charting, 3, 2, 2, 2, 2)
    assert refused.value.field == "activity"


def test_the_assessment_is_recorded_from_the_chart_once(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    screen(charting)
    sid = charting["session"].id
    html = client.get(f"/sessions/{sid}").get_data(as_text=True)
    data = {
        "assessment-submission_key": submission_key(html, f"/sessions/{sid}/discharge-assessment"),
        "assessment-occurred_at": local_text(minute(utcnow()) - timedelta(minutes=1)),
        "assessment-time_edited": "true",
        "assessment-activity": "2",
        "assessment-respiration": "2",
        "assessment-circulation": "2",
        "assessment-consciousness": "2",
        "assessment-spo2": "1",
        "assessment-escort_confirmed": "yes",
        "assessment-instruction_id": str(active_instructions()[0].id),
    }
    url = f"/sessions/{sid}/discharge-assessment"
    assert client.post(url, data=data).status_code == 302
    assert client.post(url, data=data).status_code == 302
    [assessment] = _db.session.scalars(sa.select(DischargeAssessment)).all()
    assert assessment.total == 9 and assessment.escort_confirmed


def test_an_assessment_needs_every_item(client: FlaskClient, charting: dict[str, Any]) -> None:
    sid = charting["session"].id
    response = client.post(
        f"/sessions/{sid}/discharge-assessment", data={"assessment-activity": "2"}
    )
    assert response.status_code == 422
    assert "Choose 0, 1 or 2." in response.get_data(as_text=True)
    assert _db.session.scalars(sa.select(DischargeAssessment)).all() == []


def test_the_handout_shows_the_instruction_version_given(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    screen(charting)
    assess(charting, 2, 2, 2, 2, 2)
    html = client.get(f"/sessions/{charting['session'].id}/handout").get_data(as_text=True)
    assert "Instructions post_treatment, version 1" in html
    assert "Do not drive" in html and "Going home with Sam Doe (Partner)" in html
    assert audit_actions("session_handout_printed")


def test_every_assessment_column_is_signed(charting: dict[str, Any]) -> None:
    """Discharge assessments are in the signed content (digest.ADDED_ENTRY_MODELS)."""
    screen(charting)
    assessment = assess(charting, 2, 2, 2, 2, 2)
    make_ready_to_sign(charting["session"], charting["clinician"])
    sign(charting["session"], charting["clinician"], PASSWORD)
    assert signature_matches(_db.session.scalar(sa.select(Signature)))
    table = DischargeAssessment.__table__
    other = open_session_for(make_patient(), charting["nurse"], charting["clinician"])
    changed = {
        "occurred_at": assessment.occurred_at + timedelta(minutes=1),
        "activity": 1,
        "respiration": 1,
        "circulation": 1,
        "consciousness": 1,
        "spo2": 1,
        "total": 9,
        "escort_confirmed": False,
        "instruction_id": None,
        "note": "Changed",
        "recorded_at": assessment.recorded_at + timedelta(minutes=1),
        "voided_at": utcnow(),
        "void_reason": "Behind the app's back",
        "session_id": other.id,
        "recorded_by_id": charting["clinician"].id,
        "voided_by_id": charting["nurse"].id,
    }
    assert set(changed) == {c.name for c in table.columns} - {"id"}
    for column, value in changed.items():
        original = _db.session.scalar(sa.select(table.c[column]).where(table.c.id == assessment.id))
        update = sa.update(table).where(table.c.id == assessment.id)
        _db.session.execute(update.values({column: value}))
        _db.session.commit()
        _db.session.expire_all()
        assert not signature_matches(_db.session.scalar(sa.select(Signature))), column
        _db.session.execute(update.values({column: original}))
        _db.session.commit()
        _db.session.expire_all()
    assert signature_matches(_db.session.scalar(sa.select(Signature)))
