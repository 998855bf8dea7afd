"""A pre-filled time means "now" at save, so a chart left open does not back-date entries."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from clinic.auth.models import Role
from clinic.database import utcnow
from clinic.extensions import db
from clinic.sessions.models import MonitoringEntry
from tests.factories import make_patient, open_session_for
from tests.helpers import local_text


@pytest.fixture
def chart(login_as, make_user):
    nurse = login_as(Role.NURSE)
    infusion_session = open_session_for(make_patient(), nurse, make_user(Role.CLINICIAN))
    return infusion_session


def post_vitals(client, session_id, **time_fields):
    data = {"systolic_bp": "128", "phase": "during", **time_fields}
    response = client.post(f"/sessions/{session_id}/monitoring", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.expire_all()
    return db.session.scalars(sa.select(MonitoringEntry)).one().occurred_at


def test_untouched_prefilled_time_is_taken_as_the_time_of_saving(client, chart):
    shown = local_text(utcnow() - timedelta(minutes=20))

    stored = post_vitals(client, chart.id, occurred_at=shown, time_shown=shown)

    assert abs(stored - utcnow()) < timedelta(minutes=1)


def test_a_time_the_nurse_corrected_is_kept_even_when_it_equals_the_prefilled_one(client, chart):
    earlier = (utcnow() - timedelta(minutes=20)).replace(second=0, microsecond=0)
    shown = local_text(earlier)

    stored = post_vitals(client, chart.id, occurred_at=shown, time_shown=shown, time_edited="true")

    assert stored == earlier


def test_a_typed_time_different_from_the_prefilled_one_is_kept(client, chart):
    earlier = (utcnow() - timedelta(minutes=12)).replace(second=0, microsecond=0)
    shown = local_text(utcnow() - timedelta(minutes=30))

    stored = post_vitals(client, chart.id, occurred_at=local_text(earlier), time_shown=shown)

    assert stored == earlier


def test_chart_renders_the_shown_time_beside_the_time_field(client, chart):
    html = client.get(f"/sessions/{chart.id}").get_data(as_text=True)

    assert 'name="time_shown"' in html
    assert "data-default-now" in html


def test_untouched_time_followed_by_the_script_is_now_even_if_the_shown_clock_drifted(
    client, chart
):
    # The page's script moved the shown time on by wall-clock minutes; across a change to or
    # from summer time that is an hour off. Untouched ("false") still means the time of saving.
    shown = local_text(utcnow() - timedelta(minutes=90))
    drifted = local_text(utcnow() - timedelta(minutes=60))

    stored = post_vitals(
        client, chart.id, occurred_at=drifted, time_shown=shown, time_edited="false"
    )

    assert abs(stored - utcnow()) < timedelta(minutes=1)


def test_an_edited_time_is_kept_when_the_script_followed_the_field(client, chart):
    earlier = (utcnow() - timedelta(minutes=40)).replace(second=0, microsecond=0)
    shown = local_text(utcnow() - timedelta(minutes=50))

    stored = post_vitals(
        client, chart.id, occurred_at=local_text(earlier), time_shown=shown, time_edited="true"
    )

    assert stored == earlier
