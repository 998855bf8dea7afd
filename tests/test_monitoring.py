"""Monitoring at the chair: quick entry, plausibility, flags, timeline order, T+, vitals due."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from clinic.database import utcnow
from clinic.extensions import db as _db
from clinic.sessions.entries import ChartError
from clinic.sessions.models import (
    Dissociation,
    InfusionEventKind,
    MonitoringEntry,
    Nausea,
    Phase,
)
from clinic.sessions.services import monitoring as monitoring_services
from clinic.sessions.services.administrations import InfusionEventDetails, record_infusion_event
from clinic.sessions.services.monitoring import MonitoringDetails
from tests.factories import make_patient, open_session_for, record_administration, record_monitoring
from tests.helpers import (
    audit_actions,
    input_value,
    local_text,
    minute,
    sign_in_db,
    submission_key,
    time_value,
)


@pytest.fixture
def chart_start() -> datetime:
    """The `charting` session (tests/conftest.py) started an hour ago."""
    return minute(utcnow()) - timedelta(minutes=60)


VALID = {
    "systolic_bp": "128",
    "diastolic_bp": "82",
    "heart_rate": "76",
    "spo2": "98",
    "respiratory_rate": "14",
    "sedation_moaas": "5",
    "dissociation": "mild",
    "nausea": "none",
    "temperature_c": "36.8",
    "phase": "during",
    "note": "Comfortable",
}


def post_monitoring(client: FlaskClient, session_id: int, **fields: str) -> Any:
    data = {**VALID, "occurred_at": local_text(utcnow()), **fields}
    return client.post(f"/sessions/{session_id}/monitoring", data=data)


def entries() -> list[MonitoringEntry]:
    return list(_db.session.scalars(sa.select(MonitoringEntry).order_by(MonitoringEntry.id)))


def record(charting: dict[str, Any], minutes_after_start: int, **values: Any) -> MonitoringEntry:
    at = charting["start"] + timedelta(minutes=minutes_after_start)
    return record_monitoring(charting["session"], charting["nurse"], at, **values)


def chart_html(client: FlaskClient, session_id: int) -> str:
    response = client.get(f"/sessions/{session_id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def flowsheet_rows(html: str) -> list[str]:
    body = html[html.index('data-testid="flowsheet"') :]
    body = body[: body.index("</table>")]
    return re.findall(r"<tr class=\"[^\"]*\" data-kind=.*?</tr>", body, flags=re.S)


# --- quick entry -------------------------------------------------------------------------------


def test_monitoring_entry_is_stored_and_the_form_comes_back_ready(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    infusion_session = charting["session"]
    when = minute(utcnow()) - timedelta(minutes=2)
    response = post_monitoring(client, infusion_session.id, occurred_at=local_text(when))
    assert response.status_code == 302
    # No fragment: browsers skip autofocus on a page opened at a #target.
    assert response.headers["Location"].endswith(f"/sessions/{infusion_session.id}")
    [entry] = entries()
    assert (entry.systolic_bp, entry.diastolic_bp, entry.heart_rate) == (128, 82, 76)
    assert (entry.spo2, entry.respiratory_rate, entry.sedation_moaas) == (98, 14, 5)
    assert entry.dissociation == Dissociation.MILD and entry.nausea == Nausea.NONE
    assert entry.temperature_c == Decimal("36.8")
    assert entry.phase == Phase.DURING and entry.note == "Comfortable"
    assert entry.occurred_at == when
    assert entry.recorded_by_id == charting["nurse"].id
    assert entry.recorded_at >= when
    [event] = audit_actions("monitoring_recorded")
    assert event.patient_id == infusion_session.patient_id

    html = chart_html(client, infusion_session.id)
    # An empty form, cursor in its first field, numeric keyboards.
    systolic = re.search(r'<input[^>]*name="systolic_bp"[^>]*>', html).group(0)
    assert "autofocus" in systolic and 'inputmode="numeric"' in systolic
    assert input_value(html, "systolic_bp") == ""
    for name in ("diastolic_bp", "heart_rate", "spo2", "respiratory_rate"):
        tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', html).group(0)
        assert 'inputmode="numeric"' in tag and "autofocus" not in tag
    assert 'inputmode="decimal"' in re.search(r'<input[^>]*name="temperature_c"[^>]*>', html).group(
        0
    )
    # Field order at the chair: BP, HR, SpO2, RR, sedation, dissociation, then the rest.
    quick_entry = html[html.index(f'action="/sessions/{infusion_session.id}/monitoring') :]
    order = [
        quick_entry.index(f'name="{name}"')
        for name in (
            "systolic_bp",
            "diastolic_bp",
            "heart_rate",
            "spo2",
            "respiratory_rate",
            "sedation_moaas",
            "dissociation",
            "nausea",
            "temperature_c",
            "phase",
            "note",
        )
    ]
    assert order == sorted(order)
    # The quick-entry form follows the flowsheet, right under its newest row; recorded-by shows
    # on the row, which is marked as the one just saved.
    assert html.index('name="systolic_bp"') > html.index('data-testid="flowsheet"')
    assert "128" in flowsheet_rows(html)[0] and "Test Nurse" in flowsheet_rows(html)[0]
    assert "just-saved" in flowsheet_rows(html)[0]
    assert "Saved: vitals at" in html


def test_pain_is_not_part_of_the_vitals_set(client: FlaskClient, charting: dict[str, Any]) -> None:
    # Pain is charted once, as the pain score before and after the session (the one the
    # history, trends and exports read): the quick entry neither shows nor takes it.
    infusion_session = charting["session"]
    assert post_monitoring(client, infusion_session.id, pain_nrs="3").status_code == 302
    [entry] = entries()
    assert entry.pain_nrs is None
    assert 'name="pain_nrs"' not in chart_html(client, infusion_session.id)


def test_time_defaults_to_now_in_clinic_zone(client: FlaskClient, charting: dict[str, Any]) -> None:
    html = chart_html(client, charting["session"].id)
    shown = time_value(html, "occurred_at")
    assert shown in {local_text(utcnow()), local_text(utcnow() - timedelta(minutes=1))}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("systolic_bp", "39", "from 40 to 300"),
        ("systolic_bp", "301", "from 40 to 300"),
        ("diastolic_bp", "19", "from 20 to 200"),
        ("diastolic_bp", "201", "from 20 to 200"),
        ("diastolic_bp", "130", "Diastolic must be below systolic."),
        ("heart_rate", "19", "from 20 to 250"),
        ("heart_rate", "251", "from 20 to 250"),
        ("heart_rate", "7x", "Enter a whole number."),
        ("heart_rate", "-60", "Enter a whole number."),
        ("heart_rate", "72.5", "Enter a whole number."),
        ("spo2", "49", "from 50 to 100"),
        ("spo2", "101", "from 50 to 100"),
        ("respiratory_rate", "1", "from 2 to 60"),
        ("respiratory_rate", "61", "from 2 to 60"),
        ("temperature_c", "29.9", "from 30 to 45"),
        ("temperature_c", "45.1", "from 30 to 45"),
        ("temperature_c", "36.55", "At most 1 decimal places"),
        ("temperature_c", "NaN", "Enter a number"),
        ("sedation_moaas", "6", "Not a valid choice"),
    ],
)
def test_implausible_value_is_refused_next_to_its_field_and_the_rest_is_kept(
    client: FlaskClient, charting: dict[str, Any], field: str, value: str, message: str
) -> None:
    response = post_monitoring(client, charting["session"].id, **{field: value})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = re.search(rf'<div id="{field}-error"[^>]*>([^<]*)</div>', html)
    assert error and message in error.group(1)
    # The field in error gets the cursor, with what was typed still in it.
    if field != "sedation_moaas":
        tag = re.search(rf'<input[^>]*name="{field}"[^>]*>', html).group(0)
        assert f'value="{value}"' in tag and "autofocus" in tag and 'aria-invalid="true"' in tag
    for other in (
        "systolic_bp",
        "diastolic_bp",
        "heart_rate",
        "spo2",
        "respiratory_rate",
        "temperature_c",
    ):
        if other != field:
            assert input_value(html, other) == VALID[other]
    assert re.search(r'<input checked[^>]*name="dissociation"[^>]*value="mild"', html)  # kept
    assert input_value(html, "note") == "Comfortable"
    assert entries() == []
    assert audit_actions("monitoring_recorded") == []


def test_plausibility_limits_themselves_are_accepted(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    sid = charting["session"].id
    low = {"systolic_bp": "40", "diastolic_bp": "20", "heart_rate": "20", "spo2": "50"}
    assert (
        post_monitoring(client, sid, respiratory_rate="2", temperature_c="30", **low).status_code
        == 302
    )
    high = {"systolic_bp": "300", "diastolic_bp": "200", "heart_rate": "250", "spo2": "100"}
    assert (
        post_monitoring(
            client, sid, respiratory_rate="60", temperature_c="45.0", **high
        ).status_code
        == 302
    )
    assert len(entries()) == 2


def test_entry_needs_a_value_or_a_note(client: FlaskClient, charting: dict[str, Any]) -> None:
    blank = {name: "" for name in VALID if name != "phase"}
    response = post_monitoring(client, charting["session"].id, **blank)
    assert response.status_code == 422
    assert "Enter at least one value or a note." in response.get_data(as_text=True)
    assert entries() == []
    only_note = {**blank, "note": "Patient asleep, not disturbed"}
    assert post_monitoring(client, charting["session"].id, **only_note).status_code == 302
    only_sedation = {**blank, "sedation_moaas": "4"}
    assert post_monitoring(client, charting["session"].id, **only_sedation).status_code == 302
    assert len(entries()) == 2


def test_future_time_is_refused(client: FlaskClient, charting: dict[str, Any]) -> None:
    later = local_text(utcnow() + timedelta(hours=1))
    response = post_monitoring(client, charting["session"].id, occurred_at=later)
    assert response.status_code == 422
    assert "This time is in the future." in response.get_data(as_text=True)


def test_double_submitted_entry_is_stored_once(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    sid = charting["session"].id
    key = submission_key(chart_html(client, sid), f"/sessions/{sid}/monitoring")
    for _ in range(2):
        assert post_monitoring(client, sid, submission_key=key).status_code == 302
    assert len(entries()) == 1
    assert len(audit_actions("monitoring_recorded")) == 1
    # A fresh form carries a fresh key, so the next set of vitals is stored.
    next_key = submission_key(chart_html(client, sid), f"/sessions/{sid}/monitoring")
    assert next_key != key
    assert post_monitoring(client, sid, submission_key=next_key).status_code == 302
    assert len(entries()) == 2


def test_a_key_used_on_another_session_is_refused_not_taken_for_a_retry(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    """A restored or copied form must not make a new entry vanish, nor land on another chart."""
    first = charting["session"]
    other = open_session_for(make_patient(), charting["nurse"], charting["clinician"])
    key = submission_key(chart_html(client, first.id), f"/sessions/{first.id}/monitoring")
    assert post_monitoring(client, first.id, submission_key=key).status_code == 302

    response = post_monitoring(client, other.id, submission_key=key, heart_rate="140")

    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "This form had already been used" in page and 'value="140"' in page
    assert [e.session_id for e in entries()] == [first.id]
    # The form came back with a fresh key: pressing save again stores the entry.
    retry_key = submission_key(page, f"/sessions/{other.id}/monitoring")
    assert retry_key != key
    again = post_monitoring(client, other.id, submission_key=retry_key, heart_rate="140")
    assert again.status_code == 302
    assert sorted(e.session_id for e in entries()) == sorted([first.id, other.id])


def test_signed_session_refuses_monitoring_posted_from_an_open_chart(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    sid = charting["session"].id
    key = submission_key(chart_html(client, sid), f"/sessions/{sid}/monitoring")
    sign_in_db(sid)  # the sign-off lands between loading the form and posting it
    response = post_monitoring(client, sid, submission_key=key)
    assert response.status_code == 409
    assert "signed and locked" in response.get_data(as_text=True)
    assert entries() == []
    assert audit_actions("monitoring_recorded") == []
    # Invalid input to a signed session is refused as locked too, not shown as a form error.
    response = post_monitoring(client, sid, heart_rate="999")
    assert response.status_code == 409
    assert "signed and locked" in response.get_data(as_text=True)


# --- the flowsheet -----------------------------------------------------------------------------


def test_abnormal_values_are_flagged_not_blocked(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    record(charting, 0, systolic_bp=120, diastolic_bp=80, heart_rate=70, spo2=98)
    record(
        charting,
        10,
        systolic_bp=165,
        diastolic_bp=100,
        heart_rate=111,
        spo2=93,
        respiratory_rate=9,
        temperature_c=Decimal("38.0"),
        sedation_moaas=2,
    )
    record(charting, 20, systolic_bp=89, diastolic_bp=49, heart_rate=49, respiratory_rate=25)
    record(charting, 30, systolic_bp=159, diastolic_bp=99, heart_rate=110, spo2=94)
    rows = flowsheet_rows(chart_html(client, charting["session"].id))
    flags = [set(re.findall(r'data-flag="(\w+)"', row)) for row in rows]
    assert flags[0] == set()
    assert flags[1] == {
        "systolic_bp",
        "diastolic_bp",
        "heart_rate",
        "spo2",
        "respiratory_rate",
        "temperature_c",
        "sedation_moaas",
    }
    assert flags[2] == {"systolic_bp", "diastolic_bp", "heart_rate", "respiratory_rate"}
    assert flags[3] == set()  # just inside every threshold
    assert "↑" in rows[1] and "↓" in rows[2]


@pytest.mark.parametrize(
    "app_config", [{"VITALS_FLAGS": {"heart_rate": {"above": "90"}}}], indirect=False
)
def test_flag_thresholds_come_from_configuration(
    client: FlaskClient, charting: dict[str, Any], app_config: dict[str, Any]
) -> None:
    record(charting, 0, heart_rate=95, spo2=80)
    [row] = flowsheet_rows(chart_html(client, charting["session"].id))
    assert set(re.findall(r'data-flag="(\w+)"', row)) == {"heart_rate"}


def test_rows_are_sorted_by_when_it_happened_and_interleave_infusion_events(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    sid = charting["session"].id
    start = charting["start"]
    infusion = record_administration(
        charting["session"], charting["nurse"], started_at=start + timedelta(minutes=10)
    )
    late = record(charting, 30, heart_rate=90)
    record_infusion_event(
        charting["nurse"],
        sid,
        infusion.id,
        InfusionEventDetails(
            kind=InfusionEventKind.RATE_CHANGED,
            occurred_at=start + timedelta(minutes=25),
            rate_amount=Decimal("0.75"),
            rate_unit="mg/kg/h",
        ),
        None,
    )
    _db.session.commit()
    # Typed last, happened first: a back-dated baseline.
    baseline = record(charting, 5, heart_rate=70, phase=Phase.BASELINE)
    rows = flowsheet_rows(chart_html(client, sid))
    kinds = [re.search(r'data-kind="(\w+)" data-entry-id="(\d+)"', r).groups() for r in rows]
    assert kinds == [
        ("monitoring", str(baseline.id)),
        ("infusion_event", kinds[1][1]),
        ("monitoring", str(late.id)),
    ]
    assert "Rate changed" in rows[1] and "0.75 mg/kg/h" in rows[1]


def test_each_row_shows_minutes_since_first_non_voided_administration(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    start = charting["start"]
    voided = record_administration(
        charting["session"], charting["nurse"], started_at=start + timedelta(minutes=2)
    )
    voided.voided_at = utcnow()
    voided.voided_by_id = charting["nurse"].id
    voided.void_reason = "Wrong patient"
    _db.session.commit()
    record_administration(
        charting["session"], charting["nurse"], started_at=start + timedelta(minutes=10)
    )
    record(charting, 5, heart_rate=70, phase=Phase.BASELINE)
    record(charting, 50, heart_rate=90)
    rows = flowsheet_rows(chart_html(client, charting["session"].id))
    assert "T\u22125 min" in rows[0]  # a true minus sign
    assert "T+40 min" in rows[1]


def test_voided_entry_stays_visible_struck_through_with_who_when_why(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    entry = record(charting, 5, heart_rate=70)
    entry.voided_at = utcnow()
    entry.voided_by_id = charting["nurse"].id
    entry.void_reason = "Charted on the wrong patient"
    _db.session.commit()
    [row] = flowsheet_rows(chart_html(client, charting["session"].id))
    assert re.search(r'class="[^"]*\bvoided\b', row)
    assert "Charted on the wrong patient" in row and "Test Nurse" in row


# --- when the next vitals are due --------------------------------------------------------------


def due_banner(html: str) -> str:
    match = re.search(
        r'<div class="alert ([^"]*)"[^>]*data-testid="vitals-due">(.*?)</div>', html, re.S
    )
    assert match, "no vitals-due banner"
    return match.group(1) + " " + " ".join(match.group(2).split())


def test_baseline_is_due_before_dosing_and_overdue_once_dosing_began_without_one(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    sid = charting["session"].id
    banner = due_banner(chart_html(client, sid))
    assert "Baseline vitals before dosing" in banner and "Overdue" not in banner
    record_administration(
        charting["session"], charting["nurse"], started_at=charting["start"] + timedelta(minutes=5)
    )
    banner = due_banner(chart_html(client, sid))
    assert "Overdue" in banner and "alert-danger" in banner


def test_next_vitals_due_by_schedule_and_flagged_when_overdue(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    sid = charting["session"].id
    entry = record(charting, 40, heart_rate=80)  # 20 minutes ago, schedule every 15
    due = (entry.occurred_at + timedelta(minutes=15)).astimezone(_clinic_zone())
    banner = due_banner(chart_html(client, sid))
    assert "Overdue" in banner and f"due at {due:%H:%M}" in banner
    recent = record(charting, 55, heart_rate=78)  # 5 minutes ago
    due = (recent.occurred_at + timedelta(minutes=15)).astimezone(_clinic_zone())
    banner = due_banner(chart_html(client, sid))
    assert "Overdue" not in banner and f"Next vitals due at {due:%H:%M}" in banner


@pytest.mark.parametrize(
    "app_config",
    [{"VITALS_SCHEDULE": {"baseline_before_dosing": True, "interval_minutes": 30}}],
)
def test_vitals_interval_comes_from_configuration(
    client: FlaskClient, charting: dict[str, Any], app_config: dict[str, Any]
) -> None:
    record(charting, 40, heart_rate=80)  # 20 minutes ago: not yet due every 30
    assert "Overdue" not in due_banner(chart_html(client, charting["session"].id))


def test_no_vitals_clock_on_a_signed_session(client: FlaskClient, charting: dict[str, Any]) -> None:
    record(charting, 0, heart_rate=80)
    sign_in_db(charting["session"].id)
    html = chart_html(client, charting["session"].id)
    assert 'data-testid="vitals-due"' not in html
    assert 'name="systolic_bp"' not in html


def _clinic_zone() -> Any:
    from clinic.clinic_time import clinic_zone

    return clinic_zone()


def test_signature_landing_after_the_page_check_is_caught_under_the_row_lock(
    client: FlaskClient, charting: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The view's early check saw the session unsigned; the service's locked re-read must not."""
    from clinic.sessions.models import InfusionSession, SessionStatus
    from clinic.sessions.views import posting

    original = posting.session_status_or_404

    def load_then_sign(session_id: int) -> Any:
        loaded = original(session_id)  # what the view checks: still in progress
        assert loaded == SessionStatus.IN_PROGRESS
        _db.session.execute(
            sa.update(InfusionSession)
            .where(InfusionSession.id == session_id)
            .values(status=SessionStatus.SIGNED)
            .execution_options(synchronize_session=False)
        )
        return loaded

    monkeypatch.setattr(posting, "session_status_or_404", load_then_sign)
    response = post_monitoring(client, charting["session"].id)
    assert response.status_code == 409
    assert "signed and locked" in response.get_data(as_text=True)
    assert entries() == []
    assert audit_actions("monitoring_recorded") == []


def test_a_refused_entry_shows_the_chart_again_and_that_view_is_audited(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    sid = charting["session"].id

    response = post_monitoring(client, sid, heart_rate="999")

    assert response.status_code == 422
    [event] = audit_actions("session_viewed")
    assert event.entity_id == str(sid) and event.actor_id == charting["nurse"].id
    assert entries() == []


def test_the_service_refuses_implausible_values_whatever_the_caller(
    charting: dict[str, Any],
) -> None:
    """The limits hold for the CLI and scripts too, not only for the form."""

    details = MonitoringDetails(phase=Phase.DURING, occurred_at=utcnow(), systolic_bp=999)
    with pytest.raises(ChartError, match="Not plausible"):
        monitoring_services.record_monitoring(
            charting["nurse"], charting["session"].id, details, None
        )


def test_a_used_key_sent_again_with_other_values_is_refused_not_dropped(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    """A restored page edited and sent again: the new values must not vanish as a 'retry'."""
    sid = charting["session"].id
    key = submission_key(chart_html(client, sid), f"/sessions/{sid}/monitoring")
    at = local_text(utcnow())
    first = post_monitoring(client, sid, submission_key=key, occurred_at=at, heart_rate="70")
    again = post_monitoring(client, sid, submission_key=key, occurred_at=at, heart_rate="70")

    changed = post_monitoring(client, sid, submission_key=key, occurred_at=at, heart_rate="118")

    assert (first.status_code, again.status_code) == (302, 302)  # a double tap: stored once
    assert changed.status_code == 422
    page = changed.get_data(as_text=True)
    assert "This form had already been used" in page and 'value="118"' in page
    assert [e.heart_rate for e in entries()] == [70]
