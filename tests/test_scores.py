"""Outcome scores: PHQ-9 totals, bands and the item-9 risk flag; pain NRS 0-10. The rules are the
instruments' definitions as migration 0015 loaded them (clinic/instruments/)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from clinic.auth.models import Role
from clinic.clinic_time import local_now
from clinic.instruments.definitions import Definition, DefinitionError, score_answers
from clinic.instruments.services import current_version
from clinic.sessions.models import InfusionSession, Instrument, Score, SessionStatus
from tests.factories import open_session_as
from tests.helpers import audit_actions, local_minutes_ago


def phq9_data(answers: list[int], timing: str = "before", key: str | None = None) -> dict:
    data = {f"phq9-item{n}": str(a) for n, a in enumerate(answers, start=1)}
    data.update({"phq9-timing": timing, "phq9-occurred_at": local_minutes_ago()})
    if key:
        data["phq9-submission_key"] = key
    return data


def pain_data(score: str, timing: str = "after", occurred_at: str | None = None) -> dict:
    return {
        "pain-score": score,
        "pain-timing": timing,
        "pain-occurred_at": occurred_at or local_minutes_ago(),
    }


def scores(db, session_id: int) -> list[Score]:
    return list(db.session.scalars(sa.select(Score).where(Score.session_id == session_id)))


def definition(code: str) -> Definition:
    version = current_version(code)
    assert version is not None
    return version.spec


def phq9(answers: list[int]) -> dict[str, int]:
    return {f"item{n}": a for n, a in enumerate(answers, start=1)}


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "minimal"),
        (4, "minimal"),
        (5, "mild"),
        (9, "mild"),
        (10, "moderate"),
        (14, "moderate"),
        (15, "moderately severe"),
        (19, "moderately severe"),
        (20, "severe"),
        (27, "severe"),
    ],
)
def test_phq9_band_boundaries(db, total, band):
    answers = [3] * (total // 3) + ([total % 3] if total % 3 else [])
    answers += [0] * (9 - len(answers))
    answers = [answers[8], *answers[:8]]  # item 9 last: keep it 0 unless all are needed
    scored = score_answers(definition("phq9"), phq9(answers))
    assert (scored.total, scored.band) == (total, band)


def test_phq9_total_and_item9_flag(db):
    phq = definition("phq9")
    assert score_answers(phq, phq9([3] * 9)).total == 27
    assert score_answers(phq, phq9([1, 2, 0, 0, 0, 0, 0, 0, 0])).total == 3
    assert score_answers(phq, phq9([0] * 8 + [1])).risk_flag is True
    assert score_answers(phq, phq9([3] * 8 + [0])).risk_flag is False


@pytest.mark.parametrize(
    ("answers", "field"),
    [([0] * 8, "item9"), ([0] * 8 + [4], "item9"), ([0] * 3 + [-1] + [0] * 5, "item4")],
)
def test_phq9_refuses_malformed_answers_naming_the_item(db, answers, field):
    with pytest.raises(DefinitionError) as refused:
        score_answers(definition("phq9"), phq9(answers))
    assert refused.value.field == field


def test_pain_range(db):
    pain = definition("pain_nrs")
    assert score_answers(pain, {"score": 0}).total == 0
    assert score_answers(pain, {"score": 10}).total == 10
    for bad in (-1, 11):
        with pytest.raises(DefinitionError, match=r"0 \(no pain\) to 10 \(worst imaginable\)"):
            score_answers(pain, {"score": bad})


def test_phq9_post_stores_total_and_flags_item9_on_chart(client, db, login_as):
    nurse = login_as(Role.NURSE)
    session_id = open_session_as(nurse).id
    response = client.post(
        f"/sessions/{session_id}/scores/phq9", data=phq9_data([2, 2, 1, 1, 1, 1, 1, 1, 1])
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/sessions/{session_id}#scores")
    (score,) = scores(db, session_id)
    assert score.instrument == Instrument.PHQ9
    assert (score.total, score.risk_flag) == (11, True)
    assert score.answers == [2, 2, 1, 1, 1, 1, 1, 1, 1]
    assert score.recorded_by_id == nurse.id
    page = client.get(f"/sessions/{session_id}").get_data(as_text=True)
    assert 'data-testid="risk-flag"' in page
    assert "moderate" in page
    event = audit_actions("score_recorded")[0]
    assert event.patient_id is not None and event.entity_id == str(score.id)


def test_phq9_without_item9_raises_no_flag(client, db, login_as):
    nurse = login_as(Role.NURSE)
    session_id = open_session_as(nurse).id
    client.post(f"/sessions/{session_id}/scores/phq9", data=phq9_data([3] * 8 + [0], "after"))
    (score,) = scores(db, session_id)
    # Taken once per visit, before dosing: a timing posted with it is not the form's to choose.
    assert (score.total, score.risk_flag, score.timing.value) == (24, False, "before")
    assert 'data-testid="risk-flag"' not in client.get(f"/sessions/{session_id}").get_data(
        as_text=True
    )


def test_phq9_missing_item_is_refused_with_input_kept(client, db, login_as):
    nurse = login_as(Role.NURSE)
    session_id = open_session_as(nurse).id
    data = phq9_data([1] * 9)
    del data["phq9-item5"]
    response = client.post(f"/sessions/{session_id}/scores/phq9", data=data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Answer this item (0 to 3)." in page
    assert re.search(r'<input checked[^>]*id="phq9-item1-1"', page)  # the answers given are kept
    assert scores(db, session_id) == []


def test_pain_score_out_of_range_is_refused_with_input_kept(client, db, login_as):
    nurse = login_as(Role.NURSE)
    session_id = open_session_as(nurse).id
    data = pain_data("11")
    response = client.post(f"/sessions/{session_id}/scores/pain", data=data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Not an answer to this item: 0 (no pain) to 10 (worst imaginable)." in page
    # One tap per score, 0 to 10: no button stands for 11, and none is shown chosen.
    start = page.index('id="pain-form"')
    pain_form = page[start : page.index("</form>", start)]
    assert 'value="11"' not in pain_form
    assert not re.search(r'<input checked[^>]*name="pain-score"', pain_form)
    assert scores(db, session_id) == []
    data["pain-score"] = "7"
    assert client.post(f"/sessions/{session_id}/scores/pain", data=data).status_code == 302
    (score,) = scores(db, session_id)
    assert (score.instrument, score.total, score.answers) == (Instrument.PAIN_NRS, 7, [7])


def test_score_time_in_the_future_is_refused(client, db, login_as):
    nurse = login_as(Role.NURSE)
    session_id = open_session_as(nurse).id
    later = (local_now() + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    data = pain_data("3", "before", later)
    response = client.post(f"/sessions/{session_id}/scores/pain", data=data)
    assert response.status_code == 422
    assert "This time is in the future." in response.get_data(as_text=True)


def test_double_submitted_score_creates_one_entry(client, db, login_as):
    nurse = login_as(Role.NURSE)
    session_id = open_session_as(nurse).id
    data = phq9_data([0] * 9, key="one-time-key-phq9")
    for _ in range(2):
        assert client.post(f"/sessions/{session_id}/scores/phq9", data=data).status_code == 302
    assert len(scores(db, session_id)) == 1


def test_signed_session_refuses_new_score(client, db, login_as):
    nurse = login_as(Role.NURSE)
    session_id = open_session_as(nurse).id
    db.session.get(InfusionSession, session_id).status = SessionStatus.SIGNED
    db.session.commit()
    data = pain_data("3")
    response = client.post(f"/sessions/{session_id}/scores/pain", data=data)
    assert response.status_code == 409
    assert "signed and locked" in response.get_data(as_text=True)
    assert scores(db, session_id) == []


def test_phq9_has_its_own_page_and_a_refused_one_comes_back_there(client, login_as):
    nurse = login_as(Role.NURSE)
    session_id = open_session_as(nurse).id

    form_page = client.get(f"/sessions/{session_id}/scores/phq9")
    refused = client.post(f"/sessions/{session_id}/scores/phq9", data={"phq9-timing": "before"})

    assert form_page.status_code == 200 and 'id="phq9-form"' in form_page.get_data(as_text=True)
    assert refused.status_code == 422
    assert 'id="phq9-form"' in refused.get_data(as_text=True)
