"""Instruments as data (clinic/instruments/): each version is data, never changed once written;
scores are checked and scored by the version answered, taken when they are valid (a two-week
questionnaire once per visit, before dosing), and refused next to the field at fault. The C-SSRS
screener, with a clinician's assessment, is required before discharge after a PHQ-9 item 9
above 0."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from clinic.auth.models import Role
from clinic.database import utcnow
from clinic.extensions import db as _db
from clinic.instruments.definitions import DefinitionError, score_answers
from clinic.instruments.models import InstrumentVersion
from clinic.instruments.services import add_instrument_version, current_version
from clinic.sessions.entries import ChartError
from clinic.sessions.models import InfusionSession, Score, ScoreTiming
from clinic.sessions.services.discharge import end_session
from clinic.sessions.services.follow_up import cssrs_outstanding
from clinic.sessions.services.scores import ScoreEntry, record_score
from clinic.sessions.services.voiding import void_entry
from tests.factories import insert_administration, open_session_as
from tests.helpers import audit_actions, local_minutes_ago, local_text, minute


def gad7_data(answers: list[int], **extra: str) -> dict[str, str]:
    data = {f"gad7-item{n}": str(a) for n, a in enumerate(answers, start=1)}
    data["gad7-occurred_at"] = local_minutes_ago()
    return data | extra


def phq9_data(answers: list[int]) -> dict[str, str]:
    data = {f"phq9-item{n}": str(a) for n, a in enumerate(answers, start=1)}
    data["phq9-occurred_at"] = local_minutes_ago()
    return data


def cssrs_data(answers: dict[int, int], note: str = "") -> dict[str, str]:
    data = {f"cssrs-item{n}": str(a) for n, a in answers.items()}
    data["cssrs-occurred_at"] = local_minutes_ago()
    data["cssrs-assessment_note"] = note
    return data


def scores_of(session_id: int) -> list[Score]:
    _db.session.expire_all()
    return list(_db.session.scalars(sa.select(Score).where(Score.session_id == session_id)))


def discharge(client: Any, session_id: int) -> Any:
    _db.session.expire_all()
    version = _db.session.get(InfusionSession, session_id).version
    return client.post(
        f"/sessions/{session_id}/end",
        data={
            "discharged_at": local_text(minute(utcnow())),
            "discharged_with": "Sam Doe (partner)",
            "version": str(version),
        },
    )


# --- definitions are data ----------------------------------------------------------------------


def test_shipped_instruments_are_loaded_with_their_rules(db):
    phq9 = current_version("phq9").spec
    gad7 = current_version("gad7").spec
    assert (len(phq9.items), phq9.maximum_total, phq9.loinc_panel, phq9.loinc_total) == (
        9,
        27,
        "44249-1",
        "44261-6",
    )
    assert phq9.items[8].text.startswith("Thoughts that you would be better off dead")
    assert (len(gad7.items), gad7.maximum_total, gad7.loinc_panel, gad7.loinc_total) == (
        7,
        21,
        "69737-5",
        "70274-6",
    )
    assert [b.label for b in gad7.bands] == ["minimal", "mild", "moderate", "severe"]
    assert score_answers(gad7, {f"item{n}": 3 for n in range(1, 8)}).band == "severe"
    assert score_answers(gad7, {f"item{n}": 0 for n in range(1, 8)} | {"item1": 4 - 4}).band == (
        "minimal"
    )
    for code in ("pain_nrs", "cssrs", "cadss", "fiqr"):
        assert current_version(code).spec.licence


def test_cssrs_levels_follow_the_highest_answer_and_ask_3_to_5_only_after_a_yes_to_2(db):
    cssrs = current_version("cssrs").spec
    no_to_two = {"item1": 1, "item2": 0, "item6": 0}
    assert score_answers(cssrs, no_to_two).band == "low risk"
    assert score_answers(cssrs, {"item1": 0, "item2": 0, "item6": 0}).band == "negative"
    yes_to_two = {"item1": 1, "item2": 1, "item3": 1, "item4": 0, "item5": 0, "item6": 0}
    assert score_answers(cssrs, yes_to_two).band == "moderate risk"
    assert score_answers(cssrs, yes_to_two | {"item4": 1}).band == "high risk"
    with pytest.raises(DefinitionError) as refused:
        score_answers(cssrs, no_to_two | {"item3": 1})
    assert refused.value.field == "item3"
    with pytest.raises(DefinitionError) as refused:
        score_answers(cssrs, yes_to_two | {"item5": None})
    assert refused.value.field == "item5"


def test_fiqr_and_cadss_record_totals_as_entered_within_their_ranges(db):
    fiqr = current_version("fiqr").spec
    entered = {"function": 12, "overall": 10, "symptoms": 30, "total": 52}
    assert score_answers(fiqr, entered).total == 52  # as entered, not added up
    with pytest.raises(DefinitionError) as refused:
        score_answers(fiqr, entered | {"symptoms": 51})
    assert refused.value.field == "symptoms"
    assert score_answers(current_version("cadss").spec, {"total": 17}).total == 17


def test_an_instrument_version_is_never_changed_or_deleted(db):
    version = current_version("phq9")
    with pytest.raises(sa.exc.DatabaseError, match="never changed"):
        _db.session.execute(
            sa.update(InstrumentVersion).where(InstrumentVersion.id == version.id).values(name="x")
        )
    _db.session.rollback()
    with pytest.raises(sa.exc.DatabaseError, match="never changed"):
        _db.session.execute(sa.delete(InstrumentVersion).where(InstrumentVersion.id == version.id))
    _db.session.rollback()


def test_a_new_version_leaves_scores_of_the_old_one_as_they_were(db, make_user):
    clinician = make_user(Role.CLINICIAN)
    session_id = open_session_as(clinician).id
    old = record_score(
        clinician,
        session_id,
        "gad7",
        ScoreEntry(None, utcnow() - timedelta(minutes=5), {f"item{n}": 1 for n in range(1, 8)}),
    ).entry
    data = dict(current_version("gad7").definition)
    data["bands"] = [[0, "none"], [8, "some"]]
    added = add_instrument_version(clinician, data)
    _db.session.commit()
    assert (added.version, current_version("gad7").id) == (2, added.id)
    assert old.instrument_version_id != added.id
    [event] = audit_actions("instrument_version_added")
    assert event.entity_id == str(added.id)
    page_rows = _db.session.get(Score, old.id)
    from_old = current_version("gad7")  # the new one
    assert from_old.spec.band(7, [1] * 7) == "none"
    assert page_rows.instrument_version.spec.band(7, [1] * 7) == "mild"


def test_a_definition_with_an_item_naming_no_earlier_item_is_refused(db, make_user):
    clinician = make_user(Role.CLINICIAN)
    data = dict(current_version("cssrs").definition)
    data["items"] = [{"text": "Only", "options": [[0, "No"], [1, "Yes"]], "asked_if": [3, 1]}]
    with pytest.raises(DefinitionError):
        add_instrument_version(clinician, data)


def test_item_text_added_by_a_clinician_is_shown_escaped(client, db, login_as):
    clinician = login_as(Role.CLINICIAN)
    session_id = open_session_as(clinician).id
    add_instrument_version(
        clinician,
        {
            "code": "mood",
            "name": "Mood <b>check</b>",
            "items": [{"text": "<script>alert(1)</script> today?", "options": [[0, "no"]]}],
            "scoring": "sum",
            "timing": "before_and_after",
            "licence": "The clinic's own.",
        },
    )
    _db.session.commit()
    page = client.get(f"/sessions/{session_id}/scores/mood").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; today?" in page
    assert "Mood &lt;b&gt;check&lt;/b&gt;" in page


# --- recording: 422 with the field named, nothing stored ----------------------------------------


def test_gad7_is_recorded_from_its_own_page_with_its_band(client, db, login_as):
    nurse = login_as(Role.NURSE)
    session_id = open_session_as(nurse).id
    page = client.get(f"/sessions/{session_id}/scores/gad7").get_data(as_text=True)
    assert 'id="gad7-form"' in page and "Feeling nervous, anxious, or on edge" in page
    response = client.post(f"/sessions/{session_id}/scores/gad7", data=gad7_data([2] * 7))
    assert response.status_code == 302
    [score] = scores_of(session_id)
    assert (score.instrument, score.total, score.timing) == ("gad7", 14, ScoreTiming.BEFORE)
    assert score.instrument_version_id == current_version("gad7").id
    chart = " ".join(re.sub(r"<[^>]+>", "", client.get(f"/sessions/{session_id}").text).split())
    assert "GAD-7 recorded: 14 (moderate)." in chart
    assert "14/21 · moderate" in chart


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"gad7-item3": "4"}, "gad7-item3", "Not an answer to this item: 0 to 3."),
        ({"gad7-item7": ""}, "gad7-item7", "Answer this item (0 to 3)."),
        ({"gad7-item2": "x"}, "gad7-item2", ""),
    ],
)
def test_a_bad_answer_is_refused_next_to_its_item_and_nothing_is_stored(
    client, db, login_as, change, field, message
):
    nurse = login_as(Role.NURSE)
    session_id = open_session_as(nurse).id
    response = client.post(f"/sessions/{session_id}/scores/gad7", data=gad7_data([1] * 7) | change)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    error = re.search(rf'id="{field}-error"[^>]*>([^<]*)<', page)
    assert error is not None and message in error.group(1)
    assert scores_of(session_id) == []
    assert audit_actions("score_recorded") == []


@pytest.mark.parametrize("version", ["999999", "abc", "-1"])
def test_a_score_for_a_version_that_does_not_exist_is_refused(client, db, login_as, version):
    nurse = login_as(Role.NURSE)
    session_id = open_session_as(nurse).id
    data = gad7_data([1] * 7, **{"gad7-version": version})
    response = client.post(f"/sessions/{session_id}/scores/gad7", data=data)
    assert response.status_code == 422
    assert 'data-testid="version-error"' in response.get_data(as_text=True)
    assert scores_of(session_id) == []


def test_a_version_of_another_instrument_is_refused(db, make_user):
    nurse = make_user(Role.NURSE)
    session_id = open_session_as(nurse).id
    with pytest.raises(ChartError) as refused:
        record_score(
            nurse,
            session_id,
            "gad7",
            ScoreEntry(None, utcnow(), {f"item{n}": 1 for n in range(1, 8)}),
            version_id=current_version("phq9").id,
        )
    assert refused.value.field == "version"


def test_an_unknown_instrument_page_is_not_found(client, db, login_as):
    nurse = login_as(Role.NURSE)
    session_id = open_session_as(nurse).id
    assert client.get(f"/sessions/{session_id}/scores/nosuch").status_code == 404
    assert client.get(f"/sessions/{session_id}/scores/{'x' * 40}").status_code == 404


# --- the right moment ---------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["phq9", "gad7"])
def test_a_second_questionnaire_in_a_visit_is_refused_until_the_first_is_voided(
    client, db, login_as, code
):
    nurse = login_as(Role.NURSE)
    session_id = open_session_as(nurse).id
    data = phq9_data([1] * 9) if code == "phq9" else gad7_data([1] * 7)
    assert client.post(f"/sessions/{session_id}/scores/{code}", data=data).status_code == 302
    again = client.post(f"/sessions/{session_id}/scores/{code}", data=data)
    assert again.status_code == 422
    assert "taken once per visit" in again.get_data(as_text=True)
    [first] = scores_of(session_id)
    void_entry(nurse, session_id, "score", first.id, "asked the wrong patient")
    _db.session.commit()
    assert client.post(f"/sessions/{session_id}/scores/{code}", data=data).status_code == 302
    assert len(scores_of(session_id)) == 2


def test_a_phq9_taken_after_dosing_started_is_refused_next_to_its_time(client, db, login_as):
    nurse = login_as(Role.NURSE)
    session_id = open_session_as(nurse).id
    insert_administration(session_id, nurse.id, started_at=utcnow() - timedelta(minutes=20))
    response = client.post(f"/sessions/{session_id}/scores/phq9", data=phq9_data([1] * 9))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert re.search(r'id="phq9-occurred_at-error"[^>]*>[^<]*taken before dosing', page)
    assert scores_of(session_id) == []
    chart = client.get(f"/sessions/{session_id}").get_data(as_text=True)
    assert re.search(r'data-testid="offer-phq9" data-state="past"', chart)
    assert re.search(r'data-testid="offer-cadss" data-state="due"', chart)


def test_the_chart_offers_phq9_and_gad7_before_dosing(client, db, login_as):
    nurse = login_as(Role.NURSE)
    session_id = open_session_as(nurse).id
    chart = client.get(f"/sessions/{session_id}").get_data(as_text=True)
    for code in ("phq9", "gad7", "fiqr"):
        assert re.search(rf'data-testid="offer-{code}" data-state="due"', chart)
    assert re.search(r'data-testid="offer-cadss" data-state="later"', chart)
    assert re.search(r'data-testid="offer-cssrs" data-state="available"', chart)


# --- C-SSRS before discharge -------------------------------------------------------------------


def test_discharge_is_refused_until_a_cssrs_with_assessment_follows_phq9_item9(
    client, db, login_as
):
    nurse = login_as(Role.NURSE)
    session_id = open_session_as(nurse).id
    client.post(f"/sessions/{session_id}/scores/phq9", data=phq9_data([1] * 8 + [1]))
    chart = client.get(f"/sessions/{session_id}").get_data(as_text=True)
    assert 'data-testid="cssrs-required"' in chart
    assert re.search(r'data-testid="offer-cssrs" data-state="required"', chart)

    refused = discharge(client, session_id)
    assert refused.status_code == 422
    assert "C-SSRS screener with a clinician" in refused.get_data(as_text=True)
    assert _db.session.get(InfusionSession, session_id).discharged_at is None

    # A nurse's screener is refused next to the assessment: it is a clinician's.
    answers = {1: 1, 2: 0, 6: 0}
    by_nurse = client.post(
        f"/sessions/{session_id}/scores/cssrs", data=cssrs_data(answers, "Seen; low risk.")
    )
    assert by_nurse.status_code == 422
    assert re.search(r'id="cssrs-assessment_note-error"[^>]*>[^<]*clinician', by_nurse.text)

    client.post("/logout")
    login_as(Role.CLINICIAN)
    without_note = client.post(f"/sessions/{session_id}/scores/cssrs", data=cssrs_data(answers))
    assert without_note.status_code == 422
    assert re.search(r'id="cssrs-assessment_note-error"', without_note.text)
    done = client.post(
        f"/sessions/{session_id}/scores/cssrs",
        data=cssrs_data(answers, "Passive wish only, no plan; safety plan reviewed."),
    )
    assert done.status_code == 302, re.findall(r"alert[^>]*>([^<]*)", done.text)
    cssrs = [s for s in scores_of(session_id) if s.instrument == "cssrs"]
    assert [s.assessment_note for s in cssrs] == [
        "Passive wish only, no plan; safety plan reviewed."
    ]
    assert cssrs_outstanding(session_id) == []
    assert discharge(client, session_id).status_code == 302


def test_a_voided_cssrs_makes_it_required_again_and_a_voided_phq9_does_not_trigger(db, make_user):
    clinician = make_user(Role.CLINICIAN)
    session_id = open_session_as(clinician).id
    at = utcnow() - timedelta(minutes=5)
    phq9 = record_score(
        clinician, session_id, "phq9", ScoreEntry(None, at, {f"item{n}": 2 for n in range(1, 10)})
    ).entry
    cssrs = record_score(
        clinician,
        session_id,
        "cssrs",
        ScoreEntry(None, at, {"item1": 0, "item2": 0, "item6": 0}, "Denies; reviewed."),
    ).entry
    assert cssrs_outstanding(session_id) == []
    void_entry(clinician, session_id, "score", cssrs.id, "wrong patient")
    assert cssrs_outstanding(session_id) == ["PHQ-9: Item 9 above 0: suicide risk"]
    with pytest.raises(ChartError):
        end_session(clinician, session_id, utcnow(), "Sam", 1)
    void_entry(clinician, session_id, "score", phq9.id, "wrong patient")
    assert cssrs_outstanding(session_id) == []


def test_a_phq9_with_item9_at_0_needs_no_cssrs(client, db, login_as):
    nurse = login_as(Role.NURSE)
    session_id = open_session_as(nurse).id
    client.post(f"/sessions/{session_id}/scores/phq9", data=phq9_data([3] * 8 + [0]))
    assert cssrs_outstanding(session_id) == []
    assert discharge(client, session_id).status_code == 302


# --- clinicians add an instrument or a version ---------------------------------------------------


def test_a_clinician_adds_a_version_from_the_current_one_and_bad_json_is_refused(
    client, db, login_as
):
    login_as(Role.CLINICIAN)
    page = client.get("/instruments/new?from=gad7").get_data(as_text=True)
    assert "Feeling nervous, anxious, or on edge" in page
    bad = client.post("/instruments/new", data={"definition": "{not json"})
    assert bad.status_code == 422
    assert re.search(r'id="definition-error"[^>]*>Not valid JSON', bad.get_data(as_text=True))
    wrong = dict(current_version("gad7").definition) | {"scoring": "average"}
    refused = client.post("/instruments/new", data={"definition": json.dumps(wrong)})
    assert refused.status_code == 422
    assert current_version("gad7").version == 1
    data = dict(current_version("gad7").definition) | {"name": "GAD-7 (clinic wording)"}
    assert client.post("/instruments/new", data={"definition": json.dumps(data)}).status_code == 302
    _db.session.expire_all()
    assert (current_version("gad7").version, current_version("gad7").name) == (
        2,
        "GAD-7 (clinic wording)",
    )
    assert "GAD-7 (clinic wording)" in client.get("/instruments/").get_data(as_text=True)
