"""The patient page as a history: timeline rows, filters, pagination, trends, query count."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from clinic.auth.models import Role
from clinic.extensions import db as _db
from clinic.patients.models import Indication
from clinic.review import trends
from clinic.sessions.models import Dissociation, Instrument, Method, Nausea, Route, ScoreTiming
from clinic.sessions.services.voiding import void_entry
from tests.conftest import PASSWORD
from tests.factories import (
    complete_checklist,
    insert_legacy_score,
    make_patient,
    open_session_for,
    phq9_answers,
    record_administration,
    record_monitoring,
    record_scores,
    seed_sessions,
    sign,
)
from tests.helpers import count_queries

# 2026-03-02 14:00 UTC is 09:00 in the clinic's zone (America/New_York).
START = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


@pytest.fixture
def staff(make_user):
    return make_user(Role.NURSE), make_user(Role.CLINICIAN, full_name="Cara Lin")


def row_of(html: str, session_id: int) -> str:
    match = re.search(
        rf'<tr data-testid="session-row" data-session-id="{session_id}">(.*?)</tr>', html, re.S
    )
    assert match, f"no row for session {session_id}"
    return match.group(1)


def row_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-testid="session-row" data-session-id="(\d+)"', html)]


def text(fragment: str) -> str:
    """Visible text of an HTML fragment, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", fragment).split())


def charted_session(staff):
    """A signed session with everything the history row shows."""
    nurse, clinician = staff
    patient = make_patient(indication=Indication.DEPRESSION)
    session = open_session_for(patient, nurse, clinician, started_at=START)
    at = START + timedelta(minutes=10)
    record_administration(
        session, clinician, "0.5", "mg/kg", started_at=at, ended_at=at + timedelta(minutes=40)
    )
    record_administration(session, clinician, "35", "mg", method=Method.BOLUS, started_at=at)
    voided = record_administration(session, clinician, "10", "mg", started_at=at).id
    void_entry(clinician, session.id, "administration", voided, "wrong patient")
    record_monitoring(session, nurse, at, systolic_bp=165, spo2=96)
    record_monitoring(session, nurse, at + timedelta(minutes=15), systolic_bp=172, spo2=91)
    record_monitoring(
        session,
        nurse,
        at + timedelta(minutes=30),
        sedation_moaas=2,
        dissociation=Dissociation.SEVERE,
        nausea=Nausea.VOMITED,
        heart_rate=45,
    )
    record_scores(
        session,
        nurse,
        START + timedelta(minutes=5),  # before dosing: a PHQ-9 is taken then
        phq9_before=18,
        phq9_after=9,
        pain_before=6,
        pain_after=2,
        item9_before=1,
    )
    complete_checklist(session, nurse)
    sign(session, clinician, PASSWORD)
    return patient, session


def test_history_row_shows_each_administration_as_entered_and_never_a_total(
    client, login_as, staff
):
    patient, session = charted_session(staff)
    login_as(Role.CLINICIAN)

    html = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    row = row_of(html, session.id)

    assert "2026-03-02 09:00" in row  # clinic zone
    assert "Depression" in row and "Intravenous (IV)" in row
    lines = re.findall(
        r'<li(?: class="voided")? data-testid="administration">(.*?)</li>', row, re.S
    )
    assert [text(line) for line in lines] == [
        "Ketamine hydrochloride 0.5 mg/kg infusion 40 min (09:10\u201309:50)",
        "Ketamine hydrochloride 35 mg bolus at 09:10",
        "Voided: Ketamine hydrochloride 10 mg infusion at 09:10 voided",
    ]
    assert '<li class="voided" data-testid="administration">' in row
    # Nothing is added up, on this page or anywhere: not 35.5, not 45.5, no "total" dose.
    for total in ("35.5", "45.5", "45 mg", "35.5 mg"):
        assert total not in html
    assert not re.search(r"total dose|cumulative|sum of", html, re.I)


def test_history_row_shows_worst_flags_adverse_findings_scores_checklist_and_signature(
    client, login_as, staff
):
    patient, session = charted_session(staff)
    login_as(Role.NURSE)

    row = row_of(client.get(f"/patients/{patient.id}").get_data(as_text=True), session.id)

    flags = text(re.search(r'data-testid="flags">(.*?)</td>', row, re.S).group(1))
    # The worst value per vital, not every flagged one (165 was also high).
    assert flags == "SBP 172 mmHg high HR 45 /min low SpO2 91% low"
    adverse = text(re.search(r'data-testid="adverse">(.*?)</td>', row, re.S).group(1))
    assert adverse == "Vomited Severe dissociation MOAA/S 2 SpO2 91%"
    assert text(re.search(r'data-testid="phq9-before">(.*?)</span>\s*/', row, re.S).group(0))
    assert re.search(r'data-testid="phq9-before">18 .*?moderately severe', row, re.S)
    assert 'data-testid="risk-marker">item 9 &gt; 0' in row
    assert re.search(r'data-testid="phq9-after">9 .*?mild', row, re.S)
    assert 'data-testid="pain-before">6</span>' in row
    assert 'data-testid="pain-after">2</span>' in row
    assert "Complete" in text(re.search(r'data-testid="checklist">(.*?)</td>', row, re.S).group(1))
    signature = text(re.search(r'data-testid="signature">(.*?)</td>', row, re.S).group(1))
    assert signature.startswith("Cara Lin, MD 2026-")


def test_unsigned_session_shows_its_status_and_the_missing_checklist_items(client, login_as, staff):
    nurse, clinician = staff
    patient = make_patient()
    session = open_session_for(patient, nurse, clinician, started_at=START)
    complete_checklist(session, nurse, skip=1)
    login_as(Role.NURSE)

    row = row_of(client.get(f"/patients/{patient.id}").get_data(as_text=True), session.id)

    checklist = text(re.search(r'data-testid="checklist">(.*?)</td>', row, re.S).group(1))
    assert checklist == "Missing: Vital signs near baseline"
    signature = text(re.search(r'data-testid="signature">(.*?)</td>', row, re.S).group(1))
    assert signature == "In progress Not signed"
    assert "None recorded" in row  # no administrations yet
    assert text(re.search(r'data-testid="flags">(.*?)</td>', row, re.S).group(1)) == "None"


@pytest.fixture
def three_sessions(staff):
    nurse, clinician = staff
    patient = make_patient(indication=Indication.BOTH)
    signed = open_session_for(
        patient,
        nurse,
        clinician,
        started_at=datetime(2026, 1, 5, 15, tzinfo=UTC),
        indication=Indication.DEPRESSION,
    )
    record_administration(signed, clinician, "0.5", "mg/kg", started_at=signed.started_at)
    complete_checklist(signed, nurse)
    sign(signed, clinician, PASSWORD)
    im = open_session_for(
        patient,
        nurse,
        clinician,
        route=Route.IM,
        indication=Indication.FIBROMYALGIA,
        started_at=datetime(2026, 2, 2, 15, tzinfo=UTC),
    )
    spray = open_session_for(
        patient,
        nurse,
        clinician,
        route=Route.INTRANASAL,
        indication=Indication.DEPRESSION,
        started_at=datetime(2026, 3, 2, 15, tzinfo=UTC),
    )
    return patient, signed.id, im.id, spray.id


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["spray", "im", "signed"]),
        ("route=im", ["im"]),
        ("indication=depression", ["spray", "signed"]),
        ("from=2026-02-01", ["spray", "im"]),
        ("to=2026-01-31", ["signed"]),
        ("from=2026-02-02&to=2026-02-02", ["im"]),  # one clinic-calendar day, both ends inclusive
        ("signed=signed", ["signed"]),
        ("signed=unsigned", ["spray", "im"]),
        ("route=intranasal&signed=signed", []),
    ],
)
def test_each_filter_narrows_the_timeline(client, login_as, three_sessions, query, expected):
    patient, signed, im, spray = three_sessions
    names = {signed: "signed", im: "im", spray: "spray"}
    login_as(Role.CLINICIAN)

    html = client.get(f"/patients/{patient.id}?{query}").get_data(as_text=True)

    assert [names[i] for i in row_ids(html)] == expected
    if not expected:
        assert "No sessions match these filters." in html


def test_an_unreadable_filter_is_ignored_with_a_message(client, login_as, three_sessions):
    patient, *_ = three_sessions
    login_as(Role.NURSE)

    response = client.get(f"/patients/{patient.id}?from=02/01/2026&route=nasal")

    html = response.get_data(as_text=True)
    assert response.status_code == 422  # the filter is refused, the history still shown
    assert "Enter a date as YYYY-MM-DD." in html
    assert len(row_ids(html)) == 3


def test_timeline_pages_25_sessions_newest_first_and_keeps_filters(client, db, login_as, staff):
    nurse, clinician = staff
    patient = make_patient()
    ids = seed_sessions(patient, nurse, clinician, 30)
    login_as(Role.NURSE)

    first = client.get(f"/patients/{patient.id}?route=iv").get_data(as_text=True)
    second = client.get(f"/patients/{patient.id}?route=iv&page=2").get_data(as_text=True)

    assert row_ids(first) == ids[::-1][:25]
    assert row_ids(second) == ids[::-1][25:]
    assert "Page 1 of 2" in first
    assert re.search(r'href="/patients/\d+\?page=2&amp;route=iv"', first)


def test_trend_chart_plots_every_score_with_bands_and_a_text_alternative(client, login_as, staff):
    nurse, clinician = staff
    patient = make_patient()
    seed_sessions(patient, nurse, clinician, 30)
    login_as(Role.CLINICIAN)

    html = client.get(f"/patients/{patient.id}").get_data(as_text=True)

    for key, expected_points in (("phq9", 60), ("pain_nrs", 60)):
        figure = re.search(rf'data-testid="trend-{key}">(.*?)</figure>', html, re.S).group(1)
        assert re.search(
            rf'<svg class="trend-chart"[^>]*role="img"[^>]*'
            rf'aria-labelledby="trend-{key}-title trend-{key}-desc"',
            figure,
        )
        assert f'<title id="trend-{key}-title">' in figure
        assert f'<desc id="trend-{key}-desc">' in figure
        assert len(re.findall(r'<circle class="trend-point', figure)) == expected_points
        assert len(re.findall(r'<path class="trend-line"', figure)) == 2  # before and after
    phq9 = re.search(r'data-testid="trend-phq9">(.*?)</figure>', html, re.S).group(1)
    assert len(re.findall(r'<rect class="trend-band', phq9)) == 5
    assert "moderately severe 15-19" in phq9
    table = re.search(r'data-testid="trend-table">(.*?)</table>', html, re.S).group(1)
    assert len(re.findall(r'<th scope="row">', table)) == 30
    # The CSP allows no inline styles: colours come from the stylesheet.
    assert "style=" not in html and "<style" not in html


def test_trend_marks_phq9_item_9_on_its_point(client, login_as, staff):
    nurse, clinician = staff
    patient = make_patient()
    for week in range(2):
        session = open_session_for(
            patient, nurse, clinician, started_at=START + timedelta(days=7 * week)
        )
        record_scores(session, nurse, session.started_at, phq9_before=12, item9_before=week)
    login_as(Role.NURSE)

    html = client.get(f"/patients/{patient.id}").get_data(as_text=True)

    assert len(re.findall(r'class="trend-point trend-risk"', html)) == 1
    assert "before: 12 (item 9 above 0)</title>" in html
    assert "Not enough pain scores to draw a trend yet" in html


def test_no_sessions_shows_empty_history_and_empty_trend(client, login_as):
    patient = make_patient()
    login_as(Role.NURSE)

    html = client.get(f"/patients/{patient.id}").get_data(as_text=True)

    assert "No sessions yet." in html
    assert 'data-testid="trend-empty"' in html and "<svg" not in html
    assert 'data-testid="allergy-banner"' in html  # the banner stays


def test_one_session_is_not_a_trend_but_its_scores_are_listed(client, login_as, staff):
    nurse, clinician = staff
    patient = make_patient()
    session = open_session_for(patient, nurse, clinician, started_at=START)
    record_scores(session, nurse, START, phq9_before=14, pain_before=5)
    login_as(Role.NURSE)

    html = client.get(f"/patients/{patient.id}").get_data(as_text=True)

    assert "Not enough PHQ-9 scores to draw a trend yet" in html
    assert "Not enough pain scores to draw a trend yet" in html
    assert "<svg" not in html
    table = re.search(r'data-testid="trend-table">(.*?)</table>', html, re.S).group(1)
    assert text(table).endswith("2026-03-02 14 \u2013 5 \u2013")


def page_statements(client, db, patient_id: int) -> list[str]:
    db.session.remove()  # a cold request: nothing from earlier ones in the identity map
    with count_queries(db.engine) as statements:
        response = client.get(f"/patients/{patient_id}")
    assert response.status_code == 200
    return statements


def test_patient_page_issues_the_same_number_of_queries_for_5_and_200_sessions(
    client, db, login_as, staff
):
    nurse, clinician = staff
    small, large = make_patient(), make_patient()
    seed_sessions(small, nurse, clinician, 5)
    seed_sessions(large, nurse, clinician, 200)
    login_as(Role.CLINICIAN)
    client.get(f"/patients/{small.id}")  # warm-up: first-use queries of the app are not the page's

    small_id, large_id = small.id, large.id

    few = page_statements(client, db, small_id)
    many = page_statements(client, db, large_id)

    assert len(few) == len(many), "\n".join(many)
    assert len(many) <= 25
    # Neither the trend nor the rows read the PHQ-9 answers: only what is shown.
    assert not any("answers" in statement for statement in many)


def test_trend_query_reads_only_the_columns_it_plots(app, db, staff):
    nurse, clinician = staff
    patient = make_patient()
    seed_sessions(patient, nurse, clinician, 3)
    patient_id = patient.id

    with count_queries(db.engine) as statements:
        scores = trends.trend_scores(patient_id)

    [statement] = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    selected = statement.split("FROM")[0]
    columns = re.findall(r"(\w+\.\w+)", selected)
    assert columns == [
        "infusion_session.id",
        "infusion_session.started_at",
        "score.instrument",
        "score.timing",
        "score.total",
        "score.risk_flag",
        "infusion_session.course_id",  # response is read against the course's first score
    ]
    assert len(scores) == 12


def test_html_in_an_administration_is_escaped_on_the_history(client, login_as, staff):
    nurse, clinician = staff
    patient = make_patient()
    session = open_session_for(patient, nurse, clinician, started_at=START)
    record_administration(session, clinician, "1", "mg", drug="<b>K</b>", started_at=START)
    login_as(Role.NURSE)

    html = client.get(f"/patients/{patient.id}").get_data(as_text=True)

    assert "<b>K</b>" not in html and "&lt;b&gt;K&lt;/b&gt;" in html


@pytest.mark.parametrize("query", ["", "?route=iv&signed=signed&page=2"])
def test_admin_is_refused_the_history(client, login_as, query):
    patient = make_patient()
    login_as(Role.ADMIN)
    assert client.get(f"/patients/{patient.id}{query}").status_code == 403


@pytest.mark.parametrize("query", ["", "?route=iv&signed=signed&page=2"])
def test_anonymous_is_sent_to_sign_in_from_the_history(client, query):
    patient = make_patient()
    response = client.get(f"/patients/{patient.id}{query}")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("role", [Role.NURSE, Role.CLINICIAN])
def test_nurses_and_clinicians_see_the_history(client, login_as, role):
    patient = make_patient()
    login_as(role)
    assert client.get(f"/patients/{patient.id}?signed=unsigned").status_code == 200


def test_trend_draws_the_latest_sessions_and_says_older_ones_are_left_out(app, db, staff):
    nurse, clinician = staff
    patient = make_patient()
    seed_sessions(patient, nurse, clinician, 5)

    drawn = trends.build_trends(trends.trend_scores(patient.id, sessions=3), sessions_drawn=3)
    everything = trends.build_trends(trends.trend_scores(patient.id))

    assert len(drawn.sessions) == 3 and drawn.older_left_out
    assert [s.session_id for s in drawn.sessions] == [
        s.session_id for s in everything.sessions[-3:]
    ]
    assert len(everything.sessions) == 5 and not everything.older_left_out


def test_a_later_rescoring_does_not_hide_an_item9_answer_on_the_history_or_trend(
    client, login_as, staff
):
    nurse, clinician = staff
    patient = make_patient()
    at = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    session = open_session_for(patient, nurse, clinician, started_at=at)
    record_scores(session, nurse, at, phq9_before=12, item9_before=2)
    # A second PHQ-9 in one visit, as the record may hold from before 0015 (now refused).
    insert_legacy_score(
        session.id, nurse.id, at + timedelta(minutes=5), phq9_answers(8), ScoreTiming.BEFORE
    )
    _db.session.commit()
    login_as(Role.CLINICIAN)

    html = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    plotted = trends.build_trends(trends.trend_scores(patient.id))

    assert 'data-testid="risk-marker"' in row_of(html, session.id)
    [row] = plotted.sessions
    assert row.values[(Instrument.PHQ9, ScoreTiming.BEFORE)].total == 8
    assert row.values[(Instrument.PHQ9, ScoreTiming.BEFORE)].risk_flag
