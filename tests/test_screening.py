"""The pre-session screening (issue 14): go, warn or no-go by the configured rules, a no-go holds
the first treatment administration until a clinician overrides it with a reason (audited, shown
on the chart and the print page), the escort recorded once, races and double posts."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from clinic.database import utcnow
from clinic.extensions import db as _db
from clinic.sessions.entries import ChartError
from clinic.sessions.guards import SessionLockedError
from clinic.sessions.models import Administration, Phase, Pregnancy, Screening, Signature
from clinic.sessions.screening_rules import ScreeningOutcome
from clinic.sessions.services.follow_up import cssrs_outstanding
from clinic.sessions.services.screening import (
    ScreeningDetails,
    override_screening,
    record_screening,
    screening_result,
)
from clinic.sessions.services.signoff import signature_matches
from tests.conftest import PASSWORD, login
from tests.factories import (
    make_patient,
    make_ready_to_sign,
    open_session_for,
    record_administration,
    record_monitoring,
    sign,
)
from tests.helpers import audit_actions, local_text, minute, sign_in_db, submission_key
from tests.test_route_profiles import give_rescue


def details(at: datetime, **changed: Any) -> ScreeningDetails:
    values: dict[str, Any] = {
        "occurred_at": at,
        "pregnancy": Pregnancy.NOT_APPLICABLE,
        "last_solid_food_at": at - timedelta(hours=8),
        "last_clear_fluid_at": at - timedelta(hours=3),
        "escort_present": True,
        "escort_name": "Sam Doe",
        "escort_relationship": "Partner",
        "escort_phone": "555-0100",
    }
    return ScreeningDetails(**(values | changed))


def screen(charting: dict[str, Any], **changed: Any) -> Screening:
    saved = record_screening(
        charting["nurse"], charting["session"].id, details(charting["start"], **changed), None, None
    )
    _db.session.commit()
    return saved.entry


def baseline(charting: dict[str, Any], systolic: int, diastolic: int) -> None:
    record_monitoring(
        charting["session"],
        charting["nurse"],
        charting["start"],
        phase=Phase.BASELINE,
        systolic_bp=systolic,
        diastolic_bp=diastolic,
    )


def form_data(html: str, session_id: int, **changed: str) -> dict[str, str]:
    data = {
        "screening-submission_key": submission_key(html, f"/sessions/{session_id}/screening"),
        "screening-version": "",
        "screening-occurred_at": local_text(minute(utcnow()) - timedelta(minutes=5)),
        "screening-time_edited": "true",
        "screening-pregnancy": "negative",
        "screening-alcohol_or_drugs": "no",
        "screening-suicidality_positive": "no",
        "screening-escort_present": "yes",
        "screening-escort_name": "Sam Doe",
        "screening-escort_relationship": "Partner",
        "screening-escort_phone": "555-0100",
    }
    return data | changed


# --- the rules ----------------------------------------------------------------------------------


def test_a_baseline_bp_at_or_above_160_over_100_is_a_no_go(charting: dict[str, Any]) -> None:
    baseline(charting, 172, 96)
    result = screening_result(charting["session"].id, screen(charting))
    assert result is not None and result.outcome == ScreeningOutcome.NO_GO
    assert (ScreeningOutcome.NO_GO, "Baseline systolic BP at or above 160") in result.reasons


def test_a_positive_pregnancy_is_a_no_go(charting: dict[str, Any]) -> None:
    baseline(charting, 120, 80)
    result = screening_result(
        charting["session"].id, screen(charting, pregnancy=Pregnancy.POSITIVE)
    )
    assert result is not None and result.no_go


def test_food_within_6_hours_warns_and_a_normal_screening_goes(charting: dict[str, Any]) -> None:
    baseline(charting, 120, 80)
    screening = screen(charting)
    result = screening_result(charting["session"].id, screening)
    assert result is not None and result.outcome == ScreeningOutcome.GO and result.reasons == []

    record_screening(
        charting["nurse"],
        charting["session"].id,
        details(charting["start"], last_solid_food_at=charting["start"] - timedelta(hours=5)),
        screening.version,
        None,
    )
    _db.session.commit()
    result = screening_result(charting["session"].id)
    assert result is not None and result.outcome == ScreeningOutcome.WARN
    assert result.reasons == [(ScreeningOutcome.WARN, "Solid food within 6 hours")]


def test_no_escort_and_a_positive_suicidality_screen_are_shown_to_the_clinician(
    charting: dict[str, Any],
) -> None:
    baseline(charting, 120, 80)
    screening = screen(charting, escort_present=False, escort_name="", suicidality_positive=True)
    result = screening_result(charting["session"].id, screening)
    assert result is not None and result.outcome == ScreeningOutcome.WARN
    assert {text for _, text in result.reasons} == {
        "Suicidality screen positive",
        "No escort present",
    }


@pytest.mark.parametrize(
    "app_config",
    [
        {
            "SCREENING_RULES": [
                {
                    "fact": "baseline_systolic_bp",
                    "at_or_above": "140",
                    "outcome": "no_go",
                    "reason": "Above the clinic's 140 for esketamine",
                }
            ]
        }
    ],
)
def test_the_rules_come_from_configuration(
    charting: dict[str, Any], app_config: dict[str, Any]
) -> None:
    baseline(charting, 145, 85)
    result = screening_result(charting["session"].id, screen(charting))
    assert result is not None
    assert result.reasons == [(ScreeningOutcome.NO_GO, "Above the clinic's 140 for esketamine")]


# --- the no-go and its override -----------------------------------------------------------------


def test_no_treatment_administration_after_a_no_go_without_an_override(
    charting: dict[str, Any],
) -> None:
    baseline(charting, 170, 104)
    screen(charting)
    with pytest.raises(ChartError, match=r"no-go .*clinician's override") as refused:
        record_administration(charting["session"], charting["nurse"], started_at=charting["start"])
    assert "Baseline systolic BP at or above 160" in refused.value.message
    _db.session.rollback()
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(Administration)) == 0

    override_screening(charting["clinician"], charting["session"].id, "BP 150/95 on repeat")
    _db.session.commit()
    record_administration(charting["session"], charting["nurse"], started_at=charting["start"])
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(Administration)) == 1


def test_a_rescue_medicine_is_not_held_by_a_no_go(charting: dict[str, Any]) -> None:
    baseline(charting, 170, 104)
    screen(charting)
    rescue = give_rescue(charting["session"], charting["nurse"], charting["start"])
    assert rescue.id is not None


def test_only_a_clinician_overrides_and_only_with_a_reason(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    baseline(charting, 170, 104)
    screen(charting)
    sid = charting["session"].id
    url = f"/sessions/{sid}/screening/override"
    assert client.post(url, data={"screening-override-override_reason": "Go"}).status_code == 403
    with pytest.raises(PermissionError):
        override_screening(charting["nurse"], sid, "Go")
    _db.session.rollback()

    client.post("/logout")
    assert login(client, charting["clinician"].username).status_code == 302
    response = client.post(url, data={"screening-override-override_reason": "  "})
    assert response.status_code == 422
    assert "Give the reason for going ahead." in response.get_data(as_text=True)
    assert audit_actions("screening_overridden") == []


def test_the_override_is_audited_and_shown_on_the_chart_and_print_page(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    baseline(charting, 170, 104)
    screen(charting)
    sid = charting["session"].id
    client.post("/logout")
    assert login(client, charting["clinician"].username).status_code == 302
    html = client.get(f"/sessions/{sid}").get_data(as_text=True)
    assert 'data-outcome="no_go"' in html and 'id="screening-override-form"' in html
    response = client.post(
        f"/sessions/{sid}/screening/override",
        data={"screening-override-override_reason": "Repeat BP 150/95; benefit outweighs"},
    )
    assert response.status_code == 302
    [event] = audit_actions("screening_overridden")
    assert json.loads(event.changes)["override_reason"] == "Repeat BP 150/95; benefit outweighs"
    assert event.actor_id == charting["clinician"].id
    for page in (f"/sessions/{sid}", f"/sessions/{sid}/print"):
        html = client.get(page).get_data(as_text=True)
        assert 'data-testid="screening-override"' in html
        assert "Repeat BP 150/95; benefit outweighs" in html and "Dr Orders" in html


def test_a_screening_that_is_a_go_cannot_be_overridden(charting: dict[str, Any]) -> None:
    baseline(charting, 120, 80)
    screen(charting)
    with pytest.raises(ChartError, match="not a no-go"):
        override_screening(charting["clinician"], charting["session"].id, "Just in case")


# --- the form: audited, double posts, races, signed -------------------------------------------


def test_the_screening_is_recorded_from_the_chart_and_audited(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    sid = charting["session"].id
    html = client.get(f"/sessions/{sid}").get_data(as_text=True)
    data = form_data(html, sid, **{"screening-concomitant_medicines": "benzodiazepine"})
    assert client.post(f"/sessions/{sid}/screening", data=data).status_code == 302
    assert client.post(f"/sessions/{sid}/screening", data=data).status_code == 302  # double tap
    [screening] = _db.session.scalars(sa.select(Screening)).all()
    assert screening.escort_name == "Sam Doe"
    assert screening.concomitant_medicines == ["benzodiazepine"]
    [event] = audit_actions("screening_recorded")
    assert json.loads(event.changes)["escort_name"] == "Sam Doe"
    html = client.get(f"/sessions/{sid}").get_data(as_text=True)
    assert 'data-testid="escort">Sam Doe (Partner), 555-0100' in html


def test_a_screening_saved_by_two_people_at_once_one_wins_the_other_keeps_their_input(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    sid = charting["session"].id
    html = client.get(f"/sessions/{sid}").get_data(as_text=True)
    data = form_data(html, sid, **{"screening-escort_name": "Alex Roe"})
    screen(charting)  # another nurse saved first, from the same blank form
    response = client.post(f"/sessions/{sid}/screening", data=data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "saved this screening since you opened the chart" in page
    assert 'value="Alex Roe"' in page
    _db.session.expire_all()
    [screening] = _db.session.scalars(sa.select(Screening)).all()
    assert screening.escort_name == "Sam Doe"
    assert len(audit_actions("screening_recorded")) == 1


def test_the_escort_needs_a_name_when_present(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    sid = charting["session"].id
    html = client.get(f"/sessions/{sid}").get_data(as_text=True)
    response = client.post(
        f"/sessions/{sid}/screening",
        data=form_data(html, sid, **{"screening-escort_name": ""}),
    )
    assert response.status_code == 422
    assert "Enter the escort&#39;s name." in response.get_data(as_text=True)


def test_a_last_meal_after_the_screening_is_refused(charting: dict[str, Any]) -> None:
    with pytest.raises(ChartError) as refused:
        record_screening(
            charting["nurse"],
            charting["session"].id,
            details(charting["start"], last_solid_food_at=charting["start"] + timedelta(minutes=5)),
            None,
            None,
        )
    assert refused.value.field == "last_solid_food_at"


def test_a_screening_after_signing_is_refused(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    sid = charting["session"].id
    html = client.get(f"/sessions/{sid}").get_data(as_text=True)
    sign_in_db(sid)
    response = client.post(f"/sessions/{sid}/screening", data=form_data(html, sid))
    assert response.status_code == 409
    assert _db.session.scalars(sa.select(Screening)).all() == []


def test_the_screening_service_refuses_a_signed_session(charting: dict[str, Any]) -> None:
    sign_in_db(charting["session"].id)
    with pytest.raises(SessionLockedError):
        screen(charting)


def test_a_nurse_sees_that_the_first_treatment_waits_for_a_clinician(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    baseline(charting, 170, 104)
    screen(charting)
    html = client.get(f"/sessions/{charting['session'].id}").get_data(as_text=True)
    assert 'data-testid="screening-needs-override"' in html
    assert 'id="screening-override-form"' not in html


# --- the signature --------------------------------------------------------------------------


def test_every_screening_column_is_signed(charting: dict[str, Any]) -> None:
    """The screening is part of the signed content (digest.ADDED_ENTRY_MODELS): a column changed
    behind the app's back after signing breaks the signature, whichever it is."""
    baseline(charting, 170, 104)
    screening = screen(charting, concomitant_medicines=["opioid"], note="Screened")
    override_screening(charting["clinician"], charting["session"].id, "Repeat BP 150/95")
    _db.session.commit()
    make_ready_to_sign(charting["session"], charting["clinician"])
    sign(charting["session"], charting["clinician"], PASSWORD)
    signature = _db.session.scalar(sa.select(Signature))
    assert signature_matches(signature)
    table = Screening.__table__
    changed = {
        "session_id": None,  # pointed at another session below
        "occurred_at": screening.occurred_at + timedelta(minutes=1),
        "pregnancy": "positive",
        "last_solid_food_at": None,
        "last_clear_fluid_at": None,
        "concomitant_medicines": ["maoi"],
        "alcohol_or_drugs": True,
        "new_problems": "Added later",
        "suicidality_positive": True,
        "escort_present": False,
        "escort_name": "Someone Else",
        "escort_relationship": "Friend",
        "escort_phone": "555-0199",
        "note": "Changed",
        "recorded_by_id": charting["clinician"].id,
        "recorded_at": screening.recorded_at + timedelta(minutes=1),
        "override_reason": "Changed reason",
        "override_by_id": charting["nurse"].id,
        "override_at": None,
        "version": screening.version + 5,
    }
    other = open_session_for(make_patient(), charting["nurse"], charting["clinician"])
    changed["session_id"] = other.id
    assert set(changed) == {c.name for c in table.columns} - {"id"}
    for column, value in changed.items():
        original = _db.session.scalar(sa.select(table.c[column]).where(table.c.id == screening.id))
        update = sa.update(table).where(table.c.id == screening.id)
        _db.session.execute(update.values({column: value}))
        _db.session.commit()
        _db.session.expire_all()
        assert not signature_matches(_db.session.scalar(sa.select(Signature))), column
        _db.session.execute(update.values({column: original}))
        _db.session.commit()
        _db.session.expire_all()
    assert signature_matches(_db.session.scalar(sa.select(Signature)))


def test_a_positive_suicidality_screen_makes_the_cssrs_due_before_discharge(
    charting: dict[str, Any],
) -> None:
    session_id = charting["session"].id
    assert cssrs_outstanding(session_id) == []
    screen(charting, suicidality_positive=True)
    assert cssrs_outstanding(session_id) == ["Screening: suicidality question positive"]
