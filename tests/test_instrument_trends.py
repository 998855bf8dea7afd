"""Trends per instrument (clinic/review/trends.py) with the course's first score, response (at
least 50 % below it) and remission (PHQ-9 < 5, GAD-7 < 5) marked from the entered totals; and the
FHIR export of every score as an Observation with its LOINC codes and a QuestionnaireResponse
with the answers as given."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from clinic.auth.models import Role
from clinic.database import utcnow
from clinic.extensions import db as _db
from clinic.review import trends
from clinic.sessions.services.scores import ScoreEntry, record_score
from tests.factories import make_patient, open_session_for, phq9_answers


@pytest.fixture
def course_of_three(make_user):
    """PHQ-9 20, 9 and 4 before dosing on three sessions of one course; GAD-7 12 and 5."""
    nurse, clinician = make_user(Role.NURSE), make_user(Role.CLINICIAN)
    patient = make_patient()
    start = utcnow().replace(second=0, microsecond=0) - timedelta(days=14)
    for day, phq, gad in ((0, 20, 12), (7, 9, 5), (14, 4, None)):
        at = start + timedelta(days=day) - (timedelta(hours=1) if day == 14 else timedelta())
        session = open_session_for(patient, nurse, clinician, started_at=at)
        answers = {f"item{n}": a for n, a in enumerate(phq9_answers(phq), start=1)}
        record_score(nurse, session.id, "phq9", ScoreEntry(None, at, answers))
        if gad is not None:
            gad_answers = {f"item{n}": min(3, max(0, gad - 3 * (n - 1))) for n in range(1, 8)}
            record_score(nurse, session.id, "gad7", ScoreEntry(None, at, gad_answers))
        _db.session.commit()
    return patient


def test_phq9_points_are_marked_for_response_and_remission_against_the_courses_first(
    db, course_of_three
):
    plotted = trends.build_trends(trends.trend_scores(course_of_three.id))
    [before] = [s for s in plotted.phq9.series if s.timing.value == "before"]
    marks = [(p.value, p.response, p.remission) for p in before.points]
    assert marks == [(20, False, False), (9, True, False), (4, True, True)]
    assert "First score of the course 20; response at 10 or below" in plotted.phq9.course_note
    assert plotted.phq9.response_y is not None


def test_gad7_gets_a_trend_of_its_own_with_remission_below_5(db, course_of_three):
    plotted = trends.build_trends(trends.trend_scores(course_of_three.id))
    [gad7] = [chart for chart in plotted.others if chart.key == "gad7"]
    assert gad7.title == "GAD-7 across sessions"
    [before] = gad7.series
    assert [(p.value, p.response, p.remission) for p in before.points] == [
        (12, False, False),
        (5, True, False),  # 5 is not below 5: a response, not a remission
    ]


def test_history_page_draws_each_instrument_and_the_course_note(
    client, db, login_as, course_of_three
):
    login_as(Role.CLINICIAN)
    page = client.get(f"/patients/{course_of_three.id}").get_data(as_text=True)
    assert 'data-testid="trend-phq9"' in page and 'data-testid="trend-gad7"' in page
    assert 'data-testid="trend-phq9-course"' in page
    assert "trend-point trend-remission" in page


def test_fhir_export_holds_observations_with_loinc_and_questionnaire_responses(
    client, db, login_as, course_of_three
):
    login_as(Role.CLINICIAN)
    bundle = json.loads(client.get(f"/patients/{course_of_three.id}/export.json").data)
    resources = [e["resource"] for e in bundle["entry"]]
    observations = [r for r in resources if r["resourceType"] == "Observation"]
    codes = {c["code"] for r in observations for c in r["code"].get("coding", [])}
    assert {"44249-1", "69737-5"} <= codes
    gad7 = [r for r in observations if r["code"]["coding"][0]["code"] == "69737-5"]
    assert gad7[0]["component"][0]["code"]["coding"][0]["code"] == "70274-6"
    assert gad7[0]["component"][0]["valueQuantity"]["value"] == 12
    responses = [r for r in resources if r["resourceType"] == "QuestionnaireResponse"]
    assert len(responses) == 5
    phq9 = [r for r in responses if r["questionnaire"] == "urn:clinic:instrument:phq9|1"]
    assert len(phq9) == 3 and phq9[0]["status"] == "completed"
    assert [i["linkId"] for i in phq9[0]["item"]][-1] == "item9"
    assert phq9[0]["item"][8]["definition"] == "http://loinc.org/44260-8"
    assert sum(i["answer"][0]["valueInteger"] for i in phq9[0]["item"]) == 20
