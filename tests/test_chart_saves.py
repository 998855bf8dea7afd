"""The chart at the chair: each save confirmed where it was made, saved in place by the page's
script in one request or by Post/Redirect/Get without it, one-tap scales and checklist items,
24-hour times (clinic/sessions/chart.py, templates/sessions/, clinic/sessions/forms/times.py)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from clinic.auth.models import Role
from clinic.database import utcnow
from clinic.sessions.forms.times import BAD_TIME, combined_text
from clinic.sessions.models import ChecklistCompletion, ChecklistItem, MonitoringEntry
from tests.factories import open_session_as
from tests.helpers import local_text, to_local_date_and_time

PART = {"X-Chart-Part": "1"}


def vitals(**fields: str) -> dict[str, str]:
    return {"systolic_bp": "124", "heart_rate": "72", "phase": "during", **fields}


def monitoring_rows(db: Any) -> list[MonitoringEntry]:
    return list(db.session.scalars(sa.select(MonitoringEntry).order_by(MonitoringEntry.id)))


def checklist_item(db: Any, code: str) -> ChecklistItem:
    return db.session.scalar(sa.select(ChecklistItem).where(ChecklistItem.code == code))


@pytest.fixture
def chart(login_as: Any) -> Any:
    return open_session_as(login_as(Role.NURSE))


def test_a_saved_vitals_set_is_confirmed_by_the_form_and_its_row_marked(
    client: FlaskClient, db: Any, chart: Any
) -> None:
    response = client.post(
        f"/sessions/{chart.id}/monitoring", data=vitals(occurred_at=local_text(utcnow()))
    )
    assert response.status_code == 302
    [entry] = monitoring_rows(db)

    html = client.get(response.location).get_data(as_text=True)

    start = html.index('id="monitoring-form"')
    form = html[start : html.index("</form>", start)]
    assert 'data-testid="save-status"' in form and "Saved: vitals at" in form
    assert re.search(rf'<tr class="monitoring just-saved" [^>]*id="monitoring-{entry.id}"', html)
    # Shown once: the next view of the chart has no stale confirmation.
    assert "Saved: vitals at" not in client.get(response.location).get_data(as_text=True)


def test_the_page_script_gets_the_chart_in_one_request_with_the_save_confirmed(
    client: FlaskClient, db: Any, chart: Any
) -> None:
    response = client.post(
        f"/sessions/{chart.id}/monitoring",
        data=vitals(occurred_at=local_text(utcnow())),
        headers=PART,
    )

    assert response.status_code == 200
    [entry] = monitoring_rows(db)
    html = response.get_data(as_text=True)
    assert 'id="patient-bar"' in html and "Saved: vitals at" in html
    assert f'id="monitoring-{entry.id}"' in html
    # The cursor goes back to the first field for the next set.
    assert re.search(r'<input[^>]*autofocus[^>]*name="systolic_bp"', html)


def test_a_refused_set_sent_by_the_script_comes_back_with_what_was_typed(
    client: FlaskClient, db: Any, chart: Any
) -> None:
    response = client.post(
        f"/sessions/{chart.id}/monitoring",
        data=vitals(spo2="30", occurred_at=local_text(utcnow())),
        headers=PART,
    )

    assert response.status_code == 422
    assert monitoring_rows(db) == []
    html = response.get_data(as_text=True)
    assert 'value="30"' in html and "Nothing was saved." in html
    assert 'data-testid="save-status"' not in html


def test_scales_are_one_tap_radio_groups_posting_the_same_values(
    client: FlaskClient, db: Any, chart: Any
) -> None:
    html = client.get(f"/sessions/{chart.id}").get_data(as_text=True)
    for name, values in (
        ("sedation_moaas", ["", "5", "4", "3", "2", "1", "0"]),
        ("dissociation", ["", "none", "mild", "moderate", "severe"]),
        ("nausea", ["", "none", "nausea", "vomited"]),
    ):
        radios = re.findall(rf'<input[^>]*name="{name}"[^>]*type="radio"[^>]*value="([^"]*)"', html)
        assert radios == values, name
        # "Not assessed" is chosen until the nurse taps another.
        assert re.search(rf'<input checked[^>]*name="{name}"[^>]*value=""', html), name
    assert "<select" not in html[html.index('id="monitoring-form"') :].split("</form>")[0]

    client.post(
        f"/sessions/{chart.id}/monitoring",
        data=vitals(
            sedation_moaas="4", dissociation="mild", nausea="", occurred_at=local_text(utcnow())
        ),
    )
    [entry] = monitoring_rows(db)
    assert (entry.sedation_moaas, entry.dissociation.value, entry.nausea) == (4, "mild", None)


def test_a_checklist_item_is_done_in_one_tap(client: FlaskClient, db: Any, chart: Any) -> None:
    item = checklist_item(db, "instructions_given")
    html = client.get(f"/sessions/{chart.id}").get_data(as_text=True)
    # The Done button carries the status: no radio to choose first, no disclosure to open.
    assert re.search(rf'<button type="submit" name="checklist-{item.id}-status" value="done"', html)

    response = client.post(
        f"/sessions/{chart.id}/checklist/{item.id}",
        data={f"checklist-{item.id}-status": "done", f"checklist-{item.id}-shown_state": ""},
        headers=PART,
    )

    assert response.status_code == 200
    [completion] = db.session.scalars(sa.select(ChecklistCompletion)).all()
    assert completion.done
    assert f"Checklist: {item.label} recorded." in response.get_data(as_text=True)


def test_cancelling_sits_apart_after_the_checklist_and_the_signature(
    client: FlaskClient, chart: Any
) -> None:
    html = client.get(f"/sessions/{chart.id}").get_data(as_text=True)

    assert html.index('id="checklist"') < html.index('id="sign-off"') < html.index('id="cancel"')
    assert html.index('id="addenda"') < html.index('id="cancel"')


def test_a_void_lands_on_the_row_it_voided(client: FlaskClient, db: Any, chart: Any) -> None:
    client.post(f"/sessions/{chart.id}/monitoring", data=vitals(occurred_at=local_text(utcnow())))
    [entry] = monitoring_rows(db)

    response = client.post(
        f"/sessions/{chart.id}/void/monitoring/{entry.id}", data={"reason": "Wrong chair"}
    )

    anchor = urlsplit_fragment(response.location)
    html = client.get(response.location).get_data(as_text=True)
    assert anchor == f"monitoring-{entry.id}" and f'id="{anchor}"' in html
    # The flowsheet opens on the columns that show the void and its reason.
    assert re.search(r'<input[^>]*id="flowsheet-view-record"[^>]*\bchecked', html)
    assert "Entry voided." in html


def urlsplit_fragment(location: str) -> str:
    return location.split("#", 1)[1]


def test_times_are_shown_as_a_date_and_a_24_hour_time(client: FlaskClient, chart: Any) -> None:
    html = client.get(f"/sessions/{chart.id}").get_data(as_text=True)

    assert 'type="datetime-local"' not in html
    tag = re.search(r'<input type="text"[^>]*name="occurred_at"[^>]*>', html).group(0)
    assert 'inputmode="numeric"' in tag and 'placeholder="HH:MM"' in tag
    assert re.search(r'value="([01]\d|2[0-3]):[0-5]\d"', tag)  # never "2:05 PM"
    assert re.search(
        r'<input type="date"[^>]*name="occurred_at-date" value="\d{4}-\d\d-\d\d"', html
    )
    assert 'class="btn btn-outline-secondary time-now" hidden>Now</button>' in html


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("14:05", "14:05"),
        ("1405", "14:05"),
        ("14.05", "14:05"),
        ("9:05", "09:05"),
        ("0000", "00:00"),
    ],
)
def test_a_typed_time_is_read_on_the_24_hour_clock(typed: str, stored: str) -> None:
    assert combined_text("2026-02-12", typed) == f"2026-02-12T{stored}"


def test_a_time_that_is_not_on_the_24_hour_clock_is_refused(
    client: FlaskClient, db: Any, chart: Any
) -> None:
    date, _ = to_local_date_and_time(utcnow())
    response = client.post(
        f"/sessions/{chart.id}/monitoring",
        data=vitals(**{"occurred_at-date": date, "occurred_at": "2:05 PM"}),
    )

    assert response.status_code == 422
    assert monitoring_rows(db) == []
    html = response.get_data(as_text=True)
    assert BAD_TIME in html
    assert 'value="2:05 PM"' in html  # what was typed, kept


def test_the_two_inputs_of_a_time_post_one_moment(client: FlaskClient, db: Any, chart: Any) -> None:
    earlier = utcnow().replace(second=0, microsecond=0)
    date, time = to_local_date_and_time(earlier)
    client.post(
        f"/sessions/{chart.id}/monitoring",
        data=vitals(**{"occurred_at-date": date, "occurred_at": time, "time_edited": "true"}),
    )
    [entry] = monitoring_rows(db)
    assert entry.occurred_at == earlier
