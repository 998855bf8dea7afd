"""Administrations and infusion events: stored exactly as entered, nothing computed or copied."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from clinic.auth.models import Role, User
from clinic.database import utcnow
from clinic.extensions import db as _db
from clinic.sessions.entries import ChartError
from clinic.sessions.models import (
    Administration,
    InfusionEvent,
    InfusionEventKind,
    InfusionSession,
    Method,
    Route,
)
from clinic.sessions.services.administrations import AdministrationDetails
from clinic.sessions.services.administrations import (
    record_administration as record_administration_service,
)
from clinic.sessions.views.chart_page import clinical_decimal
from tests.factories import make_patient, open_session_for, order_for, record_administration
from tests.helpers import (
    audit_actions,
    input_value,
    local_text,
    minute,
    sign_in_db,
    submission_key,
)


def administration_data(**overrides: Any) -> dict[str, Any]:
    data = {
        "drug": "Ketamine hydrochloride",
        "route": "iv",
        "method": "infusion",
        "dose_amount": "0.5",
        "dose_unit": "mg/kg",
        "rate_amount": "",
        "rate_unit": "",
        "started_at": local_text(utcnow() - timedelta(minutes=10)),
        "ended_at": "",
        "site": "Left antecubital",
        "lot_number": "LOT-42",
        "ordering_clinician_id": "",
        "note": "",
    }
    data.update(overrides)
    return data


def administrations() -> list[Administration]:
    return list(_db.session.scalars(sa.select(Administration).order_by(Administration.id)))


def ordered_amount(typed: str) -> str:
    """The amount the order says: what is typed when it is a positive number (no deviation),
    else any amount (the post is refused on its own input)."""
    try:
        amount = Decimal(typed)
    except ArithmeticError:
        return "1"
    return typed if amount.is_finite() and 0 < amount < 10**9 else "1"


def post_administration(client: FlaskClient, session_id: int, **overrides: Any) -> Any:
    """The form posted, carrying out an order in force that says exactly what is given (unless
    `order_id` is among the overrides)."""
    values = administration_data(**overrides)
    if "order_id" not in values:
        infusion_session = _db.session.get(InfusionSession, session_id)
        values["order_id"] = str(
            order_for(
                infusion_session,
                values["drug"],
                ordered_amount(values["dose_amount"]),
                values["dose_unit"] or "mg",  # an order names its unit; the post may not
                method=Method(values["method"] or "infusion"),
                route=Route(values["route"] or "iv"),
            ).id
        )
    data = {f"administration-{name}": value for name, value in values.items()}
    return client.post(f"/sessions/{session_id}/administrations", data=data)


@pytest.mark.parametrize(
    ("typed", "unit", "stored", "shown"),
    [
        ("0.5", "mg/kg", Decimal("0.5"), "0.5 mg/kg"),
        ("12.25", "mg", Decimal("12.25"), "12.25 mg"),
        (".5", "mL", Decimal("0.5"), "0.5 mL"),  # shown with a leading zero
        ("5.0", "mg", Decimal("5"), "5 mg"),  # shown without a trailing zero
        ("0.1234", "mcg", Decimal("0.1234"), "0.1234 mcg"),
        ("100", "mcg", Decimal("100"), "100 mcg"),
    ],
)
def test_administration_is_stored_exactly_as_typed(
    client: FlaskClient,
    charting: dict[str, Any],
    typed: str,
    unit: str,
    stored: Decimal,
    shown: str,
) -> None:
    infusion_session = charting["session"]
    started = minute(utcnow()) - timedelta(minutes=10)
    response = post_administration(
        client,
        infusion_session.id,
        dose_amount=typed,
        dose_unit=unit,
        rate_amount="0.75",
        rate_unit="mg/kg/h",
        started_at=local_text(started),
        ordering_clinician_id=str(charting["clinician"].id),
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/sessions/{infusion_session.id}#administrations")
    [administration] = administrations()
    assert isinstance(administration.dose_amount, Decimal)
    assert administration.dose_amount == stored
    assert administration.dose_unit == unit
    assert administration.rate_amount == Decimal("0.75")
    assert administration.rate_unit == "mg/kg/h"
    assert administration.route == Route.IV and administration.method == Method.INFUSION
    assert administration.started_at == started
    assert administration.site == "Left antecubital" and administration.lot_number == "LOT-42"
    assert administration.ordering_clinician_id == charting["clinician"].id
    assert administration.recorded_by_id == charting["nurse"].id
    [event] = audit_actions("administration_recorded")
    assert event.patient_id == infusion_session.patient_id
    html = client.get(f"/sessions/{infusion_session.id}").get_data(as_text=True)
    assert shown in html
    assert "0.75 mg/kg/h" in html


def test_clinical_decimal_display_follows_ismp() -> None:
    assert clinical_decimal(Decimal("0.5000")) == "0.5"
    assert clinical_decimal(Decimal("5.0000")) == "5"
    assert clinical_decimal(Decimal("100.0000")) == "100"
    assert clinical_decimal(Decimal("12.2500")) == "12.25"
    assert clinical_decimal(None) == ""


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("0.12345", "At most 4 decimal places"),
        ("NaN", "Enter a number"),
        ("Infinity", "Enter a number"),
        ("inf", "Enter a number"),
        ("1e3", "Enter a number"),
        ("1E-2", "Enter a number"),
        ("-1", "Enter a number"),
        ("0", "Must be more than zero"),
        ("0.0000", "Must be more than zero"),
        ("1,5", "Enter a number"),
        ("1.2.3", "Enter a number"),
        ("abc", "Enter a number"),
        (".", "Enter a number"),
        ("", "Enter the dose as ordered."),
        ("12345678901", "too large"),
    ],
)
def test_refused_dose_is_returned_with_a_message_and_other_input_kept(
    client: FlaskClient, charting: dict[str, Any], typed: str, message: str
) -> None:
    response = post_administration(
        client, charting["session"].id, dose_amount=typed, lot_number="LOT-KEEP", site="Right arm"
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html
    assert input_value(html, "administration-dose_amount") == typed
    assert input_value(html, "administration-lot_number") == "LOT-KEEP"
    assert input_value(html, "administration-site") == "Right arm"
    assert administrations() == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"dose_unit": ""}, "Choose the unit."),
        ({"dose_unit": "g"}, "Not a valid choice"),
        ({"method": ""}, "Choose the method."),
        ({"rate_amount": "2", "rate_unit": ""}, "Choose the rate unit."),
        ({"rate_amount": "", "rate_unit": "mg/h"}, "Enter the rate"),
        ({"rate_amount": "-2", "rate_unit": "mg/h"}, "Enter a number"),
        ({"rate_amount": "2.00001", "rate_unit": "mg/h"}, "At most 4 decimal places"),
        ({"started_at": ""}, "Enter the time."),
    ],
)
def test_refused_administration_fields(
    client: FlaskClient, charting: dict[str, Any], overrides: dict[str, str], message: str
) -> None:
    response = post_administration(client, charting["session"].id, **overrides)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert administrations() == []


def test_end_before_start_and_future_start_are_refused(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    now = utcnow()
    response = post_administration(
        client,
        charting["session"].id,
        started_at=local_text(now - timedelta(minutes=5)),
        ended_at=local_text(now - timedelta(minutes=20)),
    )
    assert response.status_code == 422
    assert "The end is before the start." in response.get_data(as_text=True)
    response = post_administration(
        client, charting["session"].id, started_at=local_text(now + timedelta(hours=1))
    )
    assert response.status_code == 422
    assert "This time is in the future." in response.get_data(as_text=True)
    assert administrations() == []


def test_new_administration_form_is_blank_even_with_an_earlier_session_dose(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    earlier = charting["session"]
    record_administration(
        earlier,
        charting["nurse"],
        started_at=earlier.started_at + timedelta(minutes=1),
        dose="0.6125",
        unit="mg/kg",
    )
    patient = earlier.patient
    later = open_session_for(patient, charting["nurse"], charting["clinician"], route=Route.IM)
    html = client.get(f"/sessions/{later.id}").get_data(as_text=True)
    for name in ("dose_amount", "rate_amount"):
        assert input_value(html, f"administration-{name}") == ""
    # The order in force is shown for reading (its panel, the order's choice), never put into
    # a field.
    assert 'value="0.6125"' not in html
    assert "No administration recorded." in html
    # The unit is chosen by the clinician each time: nothing is pre-selected.
    dose_unit = html[html.index('name="administration-dose_unit"') :]
    dose_unit = dose_unit[: dose_unit.index("</select>")]
    assert "selected" not in dose_unit.replace('<option selected value="">', "")
    # Route defaults to this session's route; the drug to ketamine.
    assert '<option selected value="im">' in html
    assert input_value(html, "administration-drug") == "Ketamine hydrochloride"


def test_double_submitted_administration_is_stored_once(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    infusion_session = charting["session"]
    html = client.get(f"/sessions/{infusion_session.id}").get_data(as_text=True)
    key = submission_key(html, f"/sessions/{infusion_session.id}/administrations")
    for _ in range(2):
        response = post_administration(client, infusion_session.id, submission_key=key)
        assert response.status_code == 302
    assert len(administrations()) == 1
    assert len(audit_actions("administration_recorded")) == 1


def test_a_key_of_another_form_is_not_taken_for_a_retry(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    sid = charting["session"].id
    monitoring = client.post(
        f"/sessions/{sid}/monitoring",
        data={
            "heart_rate": "70",
            "phase": "baseline",
            "occurred_at": local_text(utcnow()),
            "submission_key": "used-once",
        },
    )
    assert monitoring.status_code == 302
    response = post_administration(client, sid, submission_key="used-once")
    assert response.status_code == 422
    assert "This form had already been used" in response.get_data(as_text=True)
    assert administrations() == []


def test_signed_session_refuses_administration_posted_from_an_open_chart(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    infusion_session = charting["session"]
    html = client.get(f"/sessions/{infusion_session.id}").get_data(as_text=True)
    key = submission_key(html, f"/sessions/{infusion_session.id}/administrations")
    sign_in_db(infusion_session.id)  # the clinician signs while the form is open
    response = post_administration(client, infusion_session.id, submission_key=key)
    assert response.status_code == 409
    assert "signed and locked" in response.get_data(as_text=True)
    assert administrations() == []
    assert audit_actions("administration_recorded") == []


# --- infusion events ---------------------------------------------------------------------------


def events() -> list[InfusionEvent]:
    return list(_db.session.scalars(sa.select(InfusionEvent).order_by(InfusionEvent.id)))


def post_event(client: FlaskClient, session_id: int, administration_id: int, **fields: str) -> Any:
    data = {f"event-{administration_id}-{name}": value for name, value in fields.items()}
    data.setdefault(f"event-{administration_id}-occurred_at", local_text(utcnow()))
    return client.post(
        f"/sessions/{session_id}/administrations/{administration_id}/events", data=data
    )


def test_infusion_events_are_recorded_as_entered_until_stopped(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    infusion_session = charting["session"]
    start = minute(utcnow()) - timedelta(minutes=40)
    infusion = record_administration(infusion_session, charting["nurse"], started_at=start)
    sid, aid = infusion_session.id, infusion.id

    assert (
        post_event(client, sid, aid, kind="started", occurred_at=local_text(start)).status_code
        == 302
    )
    response = post_event(
        client,
        sid,
        aid,
        kind="rate_changed",
        rate_amount="0.75",
        rate_unit="mg/kg/h",
        occurred_at=local_text(start + timedelta(minutes=10)),
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"#administration-{aid}")
    assert (
        post_event(
            client, sid, aid, kind="paused", occurred_at=local_text(start + timedelta(minutes=15))
        ).status_code
        == 302
    )
    assert (
        post_event(
            client, sid, aid, kind="resumed", occurred_at=local_text(start + timedelta(minutes=17))
        ).status_code
        == 302
    )
    response = post_event(
        client,
        sid,
        aid,
        kind="bolus",
        bolus_amount="5",
        bolus_unit="mg",
        occurred_at=local_text(start + timedelta(minutes=20)),
    )
    assert response.status_code == 302
    assert (
        post_event(
            client, sid, aid, kind="stopped", occurred_at=local_text(start + timedelta(minutes=30))
        ).status_code
        == 302
    )

    recorded = events()
    assert [e.kind for e in recorded] == [
        InfusionEventKind.STARTED,
        InfusionEventKind.RATE_CHANGED,
        InfusionEventKind.PAUSED,
        InfusionEventKind.RESUMED,
        InfusionEventKind.BOLUS,
        InfusionEventKind.STOPPED,
    ]
    assert recorded[1].rate_amount == Decimal("0.75") and recorded[1].rate_unit == "mg/kg/h"
    assert recorded[4].bolus_amount == Decimal("5") and recorded[4].bolus_unit == "mg"
    assert recorded[1].occurred_at == start + timedelta(minutes=10)
    assert len(audit_actions("infusion_event_recorded")) == 6

    # Stopped: no more events, with a clear message, nothing stored.
    response = post_event(client, sid, aid, kind="resumed")
    assert response.status_code == 409
    assert "This infusion has been stopped; it takes no more events." in response.get_data(
        as_text=True
    )
    assert len(events()) == 6

    html = client.get(f"/sessions/{sid}").get_data(as_text=True)
    assert f'action="/sessions/{sid}/administrations/{aid}/events"' not in html
    assert "Infusion stopped: no more events." in html
    # Nothing is summed: no total, no volume infused.
    assert "total" not in html.lower().split('id="administrations"')[1].split('id="ending"')[0]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "rate_changed"}, "Enter the new rate."),
        ({"kind": "rate_changed", "rate_amount": "2"}, "Choose the unit."),
        ({"kind": "bolus", "bolus_unit": "mg"}, "Enter the bolus amount."),
        ({"kind": "paused", "rate_amount": "2", "rate_unit": "mg/h"}, "Leave the new rate empty"),
        ({"kind": "rate_changed", "rate_amount": "1e2", "rate_unit": "mg/h"}, "Enter a number"),
        ({"kind": "nonsense"}, "Not a valid choice"),
    ],
)
def test_refused_infusion_event_fields(
    client: FlaskClient, charting: dict[str, Any], fields: dict[str, str], message: str
) -> None:
    infusion_session = charting["session"]
    infusion = record_administration(
        infusion_session, charting["nurse"], started_at=infusion_session.started_at
    )
    response = post_event(client, infusion_session.id, infusion.id, note="keep me", **fields)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html
    assert input_value(html, f"event-{infusion.id}-note") == "keep me"
    assert events() == []


def test_events_only_for_an_infusion_of_this_session(
    client: FlaskClient, charting: dict[str, Any], make_user: Callable[..., User]
) -> None:
    infusion_session = charting["session"]
    injection = record_administration(
        infusion_session,
        charting["nurse"],
        started_at=infusion_session.started_at,
        method=Method.INJECTION,
        dose="50",
        unit="mg",
    )
    response = post_event(client, infusion_session.id, injection.id, kind="started")
    assert response.status_code == 409
    assert "only for an infusion" in response.get_data(as_text=True)
    other = open_session_for(make_patient(), charting["nurse"], charting["clinician"])
    infusion = record_administration(other, charting["nurse"], started_at=other.started_at)
    response = post_event(client, infusion_session.id, infusion.id, kind="started")
    assert response.status_code == 409
    assert events() == []


def test_signed_session_refuses_infusion_event(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    infusion_session = charting["session"]
    infusion = record_administration(
        infusion_session, charting["nurse"], started_at=infusion_session.started_at
    )
    client.get(f"/sessions/{infusion_session.id}")
    sign_in_db(infusion_session.id)
    response = post_event(client, infusion_session.id, infusion.id, kind="stopped")
    assert response.status_code == 409
    assert "signed and locked" in response.get_data(as_text=True)
    assert events() == []


def test_double_submitted_infusion_event_is_stored_once(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    infusion_session = charting["session"]
    infusion = record_administration(
        infusion_session, charting["nurse"], started_at=infusion_session.started_at
    )
    for _ in range(2):
        response = post_event(
            client, infusion_session.id, infusion.id, kind="paused", submission_key="tap-twice"
        )
        assert response.status_code == 302
    assert len(events()) == 1


def test_clinician_records_an_administration(
    client: FlaskClient, login_as: Callable[..., User], make_user: Callable[..., User]
) -> None:
    clinician = login_as(Role.CLINICIAN)
    nurse = make_user(Role.NURSE)
    infusion_session = open_session_for(make_patient(), nurse, clinician)
    assert post_administration(client, infusion_session.id).status_code == 302
    [administration] = administrations()
    assert administration.recorded_by_id == clinician.id
    assert _db.session.get(InfusionSession, infusion_session.id) is not None


def test_the_service_refuses_an_end_before_the_start(charting: dict[str, Any]) -> None:
    start = charting["start"] + timedelta(minutes=10)
    details = AdministrationDetails(
        drug="Ketamine hydrochloride",
        route=charting["session"].route,
        method=Method.INFUSION,
        dose_amount=Decimal("0.5"),
        dose_unit="mg/kg",
        rate_amount=None,
        rate_unit=None,
        started_at=start,
        ended_at=start - timedelta(minutes=5),
        site="",
        lot_number="",
        ordering_clinician_id=None,
        note="",
    )
    with pytest.raises(ChartError, match="end is before the start"):
        record_administration_service(charting["nurse"], charting["session"].id, details, None)
