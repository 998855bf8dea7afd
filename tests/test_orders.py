"""Orders (issue 13): a clinician writes and signs them with the password re-entered, never edits
them (a new order supersedes, or a discontinuation ends one); the nurse carries one out, enters
what was given, and a difference is a deviation a clinician acknowledges before sign-off. Entered
values are compared, never derived: nothing about a dose is computed or suggested."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from html import unescape
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from clinic.auth.models import Role, User
from clinic.database import utcnow
from clinic.extensions import db as _db
from clinic.orders.models import MedicationOrder, OrderKind, OrderStatus
from clinic.orders.services import orders_in_force
from clinic.sessions.course_place import course_place
from clinic.sessions.models import Administration, InfusionSession, SessionStatus
from clinic.sessions.services.signoff import sign_off_problems
from tests.conftest import PASSWORD
from tests.factories import complete_checklist, order_for, record_administration
from tests.helpers import audit_actions, input_value, local_text, minute


def count(model: type) -> int:
    return _db.session.scalar(sa.select(sa.func.count()).select_from(model))


def text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def order_form(**values: str) -> dict[str, str]:
    return {
        "kind": "treatment",
        "drug": "Ketamine hydrochloride",
        "concentration": "10 mg/mL",
        "dose_amount": "35",
        "dose_unit": "mg",
        "route": "iv",
        "method": "infusion",
        "rate_or_duration": "over 40 minutes",
        "indication": "",
        "min_interval_minutes": "",
        "max_doses_per_session": "",
        "note": "0.5 mg/kg for 70 kg",
        "password": PASSWORD,
        **values,
    }


def given(order: MedicationOrder | None, **values: str) -> dict[str, str]:
    """The administration form as the nurse fills it (prefixed as on the chart)."""
    data = {
        "order_id": str(order.id) if order else "",
        "drug": "Ketamine hydrochloride",
        "route": "iv",
        "method": "infusion",
        "dose_amount": "35",
        "dose_unit": "mg",
        "rate_amount": "",
        "rate_unit": "",
        "started_at": local_text(minute(utcnow()) - timedelta(minutes=10)),
        "ended_at": "",
        "site": "Left antecubital",
        "lot_number": "LOT-7",
        "concentration": "",
        "volume_ml": "",
        "ordering_clinician_id": "",
        "note": "",
        **values,
    }
    return {f"administration-{name}": value for name, value in data.items()}


@pytest.fixture
def clinician_charting(
    charting: dict[str, Any], client: FlaskClient, login_as: Callable[..., User]
) -> dict[str, Any]:
    """The charting session, with the client signed in as a clinician instead of the nurse."""
    client.post("/logout")
    charting["writer"] = login_as(Role.CLINICIAN, full_name="Dr Writer", credentials="MD")
    return charting


# --- writing and signing --------------------------------------------------------------------------


def test_clinician_writes_and_signs_an_order_with_her_password(
    client: FlaskClient, clinician_charting: dict[str, Any]
) -> None:
    course_id = clinician_charting["session"].course_id
    response = client.post(f"/orders/new?course={course_id}", data=order_form(submission_key="o1"))
    assert response.status_code == 302
    order = _db.session.scalar(sa.select(MedicationOrder))
    assert response.headers["Location"].endswith(f"/orders/{order.id}")
    assert (order.dose_amount, order.dose_unit, order.status) == (
        Decimal("35"),
        "mg",
        OrderStatus.ACTIVE,
    )
    assert (order.signed_by_id, order.signer_name, order.signer_credentials) == (
        clinician_charting["writer"].id,
        "Dr Writer",
        "MD",
    )
    [event] = audit_actions("order_written")
    changes = json.loads(event.changes)
    assert changes["dose_amount"] == [None, "35"] and changes["note"][1] == "0.5 mg/kg for 70 kg"
    assert PASSWORD not in event.changes
    page = text(client.get(f"/orders/{order.id}").get_data(as_text=True))
    assert "Ketamine hydrochloride (10 mg/mL) 35 mg Intravenous (IV), infusion" in page
    assert "signed by Dr Writer, MD" in page

    again = client.post(f"/orders/new?course={course_id}", data=order_form(submission_key="o1"))
    assert again.status_code == 302
    assert count(MedicationOrder) == 1


def test_a_wrong_password_signs_no_order(
    client: FlaskClient, clinician_charting: dict[str, Any]
) -> None:
    course_id = clinician_charting["session"].course_id
    response = client.post(
        f"/orders/new?course={course_id}", data=order_form(password="not-my-password-1")
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "The password is not correct; the order was not signed." in html
    assert input_value(html, "dose_amount") == "35"  # what was typed is kept
    assert input_value(html, "password") in ("", None)  # the password is not sent back
    assert count(MedicationOrder) == 0
    assert [e.changes for e in audit_actions("reauthentication_failed")]


def test_a_nurse_reads_orders_and_writes_none(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    order = order_for(charting["session"])
    course_id = charting["session"].course_id
    assert client.get(f"/orders/{order.id}").status_code == 200
    assert client.get(f"/orders/course/{course_id}").status_code == 200
    assert client.post(f"/orders/new?course={course_id}", data=order_form()).status_code == 403
    assert client.post(f"/orders/{order.id}/supersede", data=order_form()).status_code == 403
    response = client.post(f"/orders/{order.id}/discontinue", data={"reason": "x"})
    assert response.status_code == 403
    assert count(MedicationOrder) == 1 and _db.session.get(MedicationOrder, order.id).in_force


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"kind": "prn", "indication": ""}, "indication", "Say what the PRN order is for"),
        ({"dose_amount": "0"}, "dose_amount", "Must be more than zero."),
        ({"dose_amount": "1e3"}, "dose_amount", "Enter a number"),
        ({"kind": "treatment", "indication": "nausea"}, "kind", "belong to a PRN order"),
        (
            {"kind": "prn", "indication": "Nausea", "max_doses_per_session": "0"},
            "max_doses_per_session",
            "Allow between 1 and 20",
        ),
    ],
)
def test_an_impossible_order_is_refused_next_to_the_field(
    client: FlaskClient,
    clinician_charting: dict[str, Any],
    values: dict[str, str],
    field: str,
    message: str,
) -> None:
    course_id = clinician_charting["session"].course_id
    response = client.post(f"/orders/new?course={course_id}", data=order_form(**values))
    assert response.status_code == 422
    html = unescape(response.get_data(as_text=True))
    error = re.search(rf'id="{field}-error"[^>]*>([^<]*)<', html)
    assert error and message in error.group(1), html
    assert count(MedicationOrder) == 0


def test_an_order_is_never_edited_a_new_one_supersedes_it(
    client: FlaskClient, clinician_charting: dict[str, Any]
) -> None:
    old = order_for(clinician_charting["session"], dose="35", unit="mg")
    form = client.get(f"/orders/{old.id}/supersede").get_data(as_text=True)
    assert input_value(form, "dose_amount") == ""  # blank: written, never copied
    response = client.post(f"/orders/{old.id}/supersede", data=order_form(dose_amount="40"))
    assert response.status_code == 302
    _db.session.expire_all()
    new = _db.session.scalar(sa.select(MedicationOrder).where(MedicationOrder.id != old.id))
    old = _db.session.get(MedicationOrder, old.id)
    assert (old.status, old.dose_amount) == (OrderStatus.SUPERSEDED, Decimal("35"))
    assert (new.supersedes_id, new.dose_amount, new.course_id) == (old.id, 40, old.course_id)
    assert [e.entity_id for e in audit_actions("order_superseded")] == [str(old.id)]
    page = text(client.get(f"/orders/{old.id}").get_data(as_text=True))
    assert f"Superseded by order {new.id}" in page

    # The old order cannot be superseded or discontinued again.
    again = client.post(f"/orders/{old.id}/supersede", data=order_form(dose_amount="45"))
    assert again.status_code == 409
    assert "no longer in force" in again.get_data(as_text=True)
    assert count(MedicationOrder) == 2


def test_discontinuing_an_order_needs_a_reason_and_happens_once(
    client: FlaskClient, clinician_charting: dict[str, Any]
) -> None:
    order = order_for(clinician_charting["session"])
    url = f"/orders/{order.id}/discontinue"
    assert client.post(url, data={"reason": " "}).status_code == 422
    assert client.post(url, data={"reason": "BP peaks at 40 min"}).status_code == 302
    _db.session.expire_all()
    stored = _db.session.get(MedicationOrder, order.id)
    assert (stored.status, stored.discontinue_reason) == (
        OrderStatus.DISCONTINUED,
        "BP peaks at 40 min",
    )
    assert client.post(url, data={"reason": "again"}).status_code == 409
    assert len(audit_actions("order_discontinued")) == 1


# --- carrying an order out ------------------------------------------------------------------------


def test_the_chart_shows_the_orders_in_force_beside_a_blank_form(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    infusion_session = charting["session"]
    order = order_for(infusion_session, dose="0.6125", unit="mg/kg")
    prn = order_for(
        infusion_session, "Ondansetron", "4", "mg", kind=OrderKind.PRN, indication="nausea"
    )
    html = client.get(f"/sessions/{infusion_session.id}").get_data(as_text=True)
    panel = re.search(r'data-testid="orders-panel">(.*?)</section>', html, re.S).group(1)
    assert "0.6125 mg/kg" in text(panel) and "PRN for nausea" in text(panel)
    assert f'data-order-id="{order.id}"' in panel and f'data-order-id="{prn.id}"' in panel
    for name in ("dose_amount", "rate_amount", "volume_ml", "concentration"):
        assert input_value(html, f"administration-{name}") == ""
    assert 'value="0.6125"' not in html


def test_treatment_dose_refused_without_signed_order(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    sid = charting["session"].id
    response = client.post(f"/sessions/{sid}/administrations", data=given(None))
    assert response.status_code == 422
    assert "Choose the signed order you are carrying out." in unescape(
        response.get_data(as_text=True)
    )
    assert count(Administration) == 0
    assert audit_actions("administration_recorded") == []


def test_an_order_of_another_course_is_refused(
    client: FlaskClient, charting: dict[str, Any], make_user: Callable[..., User]
) -> None:
    from tests.factories import make_patient, open_session_for

    other = open_session_for(make_patient(), charting["nurse"], charting["clinician"])
    foreign = order_for(other, dose="35", unit="mg")
    response = client.post(
        f"/sessions/{charting['session'].id}/administrations", data=given(foreign)
    )
    assert response.status_code == 422
    assert "Choose one of this session's orders in force." in unescape(
        response.get_data(as_text=True)
    )
    assert count(Administration) == 0


def test_a_post_against_an_order_superseded_meanwhile_is_refused_keeping_the_input(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    from clinic.orders.services import OrderDetails, write_order

    infusion_session = charting["session"]
    old = order_for(infusion_session, dose="35", unit="mg")
    client.get(f"/sessions/{infusion_session.id}")  # the nurse has the chart open
    new = write_order(
        charting["clinician"],
        infusion_session.patient_id,
        OrderDetails(
            OrderKind.TREATMENT,
            "Ketamine hydrochloride",
            Decimal("30"),
            "mg",
            old.route,
            old.method,
        ),
        PASSWORD,
        None,
        supersedes_id=old.id,
    ).entry
    _db.session.commit()

    response = client.post(
        f"/sessions/{infusion_session.id}/administrations",
        data=given(old, lot_number="LOT-KEPT", dose_amount="35"),
    )

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert f"Order {old.id} is no longer in force (superseded)" in html
    assert input_value(html, "administration-lot_number") == "LOT-KEPT"
    panel = re.search(r'data-testid="orders-panel">(.*?)</section>', html, re.S).group(1)
    assert f'data-order-id="{new.id}"' in panel and f'data-order-id="{old.id}"' not in panel
    assert count(Administration) == 0


def test_an_administration_records_its_order_and_what_was_drawn_without_computing(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    infusion_session = charting["session"]
    order = order_for(infusion_session, dose="30", unit="mg")
    response = client.post(
        f"/sessions/{infusion_session.id}/administrations",
        data=given(order, dose_amount="30", concentration="10 mg/mL", volume_ml="3.5"),
    )
    assert response.status_code == 302
    [administration] = _db.session.scalars(sa.select(Administration)).all()
    assert administration.order_id == order.id
    assert (administration.concentration, administration.volume_ml) == ("10 mg/mL", Decimal("3.5"))
    [event] = audit_actions("administration_recorded")
    assert json.loads(event.changes)["order_id"] == [None, order.id]
    html = client.get(f"/sessions/{infusion_session.id}").get_data(as_text=True)
    assert "3.5 mL drawn of 10 mg/mL" in text(html)
    # 10 mg/mL times 3.5 mL is never worked out, nor any total.
    assert "35 mg" not in text(html)
    assert 'data-testid="deviations"' not in html  # as ordered: no deviation


# --- deviations -----------------------------------------------------------------------------------


def test_a_deviating_amount_is_stored_as_entered_and_waits_for_a_clinicians_acknowledgement(
    client: FlaskClient, charting: dict[str, Any], login_as: Callable[..., User]
) -> None:
    infusion_session = charting["session"]
    order = order_for(infusion_session, dose="35", unit="mg")
    response = client.post(
        f"/sessions/{infusion_session.id}/administrations", data=given(order, dose_amount="40")
    )
    assert response.status_code == 302
    [administration] = _db.session.scalars(sa.select(Administration)).all()
    assert administration.dose_amount == Decimal("40")  # as entered, never corrected
    complete_checklist(infusion_session, charting["nurse"], required_only=True)

    html = client.get(f"/sessions/{infusion_session.id}").get_data(as_text=True)
    deviations = text(re.search(r'data-testid="deviations">(.*?)</section>', html, re.S).group(1))
    assert "amount 40 mg, ordered 35 mg" in deviations
    assert "Waiting for a clinician's acknowledgement" in deviations
    session = _db.session.get(InfusionSession, infusion_session.id)
    [problem] = sign_off_problems(session)
    assert problem.startswith(
        f"a clinician's acknowledgement of the deviation from order {order.id}"
    )

    url = f"/sessions/{infusion_session.id}/administrations/{administration.id}/acknowledge"
    assert client.post(url, data={f"deviation-{administration.id}-note": "ok"}).status_code == 403

    client.post("/logout")
    login_as(Role.CLINICIAN)
    empty = client.post(url, data={f"deviation-{administration.id}-note": " "})
    assert empty.status_code == 422
    note = "40 mg given on my instruction: BP and weight reviewed"
    done = client.post(url, data={f"deviation-{administration.id}-note": note})
    assert done.status_code == 302
    _db.session.expire_all()
    stored = _db.session.get(Administration, administration.id)
    assert stored.deviation_note == note and stored.deviation_acknowledged_at is not None
    [event] = audit_actions("deviation_acknowledged")
    assert json.loads(event.changes)["deviation_note"] == [None, note]
    assert sign_off_problems(_db.session.get(InfusionSession, infusion_session.id)) == []
    chart = text(client.get(f"/sessions/{infusion_session.id}").get_data(as_text=True))
    assert "Acknowledged by" in chart and note in chart
    printed = text(client.get(f"/sessions/{infusion_session.id}/print").get_data(as_text=True))
    assert "Deviation: amount 40 mg, ordered 35 mg. Acknowledged by" in printed
    again = client.post(url, data={f"deviation-{administration.id}-note": "twice"})
    assert again.status_code == 422
    assert len(audit_actions("deviation_acknowledged")) == 1


def test_a_route_or_unit_other_than_the_orders_is_a_deviation(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    infusion_session = charting["session"]
    order = order_for(infusion_session, dose="0.5", unit="mg/kg")
    response = client.post(
        f"/sessions/{infusion_session.id}/administrations",
        data=given(order, dose_amount="35", dose_unit="mg", route="im", method="injection"),
    )
    assert response.status_code == 302
    html = text(client.get(f"/sessions/{infusion_session.id}").get_data(as_text=True))
    # Another unit is not converted: compared as entered, it differs.
    assert (
        "amount 35 mg, ordered 0.5 mg/kg; route Intramuscular (IM), ordered Intravenous (IV)"
        in html
    )


def test_an_administration_as_ordered_blocks_nothing(charting: dict[str, Any]) -> None:
    infusion_session = charting["session"]
    record_administration(
        infusion_session, charting["nurse"], "35", "mg", started_at=infusion_session.started_at
    )
    complete_checklist(infusion_session, charting["nurse"], required_only=True)
    assert sign_off_problems(_db.session.get(InfusionSession, infusion_session.id)) == []


def prn_dose(client: FlaskClient, infusion_session: Any, order: MedicationOrder, ago: int) -> int:
    """Ondansetron 4 mg charted under the PRN order, `ago` minutes back; its administration id."""
    started = local_text(minute(utcnow()) - timedelta(minutes=ago))
    response = client.post(
        f"/sessions/{infusion_session.id}/administrations",
        data=given(order, drug="Ondansetron", dose_amount="4", started_at=started),
    )
    assert response.status_code == 302
    return _db.session.scalar(sa.select(sa.func.max(Administration.id)))


def test_a_prn_dose_sooner_or_more_often_than_ordered_is_recorded_as_a_deviation(
    client: FlaskClient, charting: dict[str, Any], login_as: Callable[..., User]
) -> None:
    infusion_session = charting["session"]
    order = order_for(
        infusion_session,
        "Ondansetron",
        "4",
        "mg",
        kind=OrderKind.PRN,
        indication="nausea",
        min_interval_minutes=15,
        max_doses_per_session=2,
    )
    first = prn_dose(client, infusion_session, order, ago=28)
    second = prn_dose(client, infusion_session, order, ago=20)
    third = prn_dose(client, infusion_session, order, ago=2)
    # Each dose is on the record as given: a limit never refuses what was given.
    assert count(Administration) == 3

    html = client.get(f"/sessions/{infusion_session.id}").get_data(as_text=True)
    deviations = text(re.search(r'data-testid="deviations">(.*?)</section>', html, re.S).group(1))
    assert "given 8 min after the previous dose, ordered at least 15 min apart" in deviations
    assert "dose 3 in this session, ordered at most 2" in deviations
    assert "given 18 min after" not in deviations  # the third is late enough after the second
    panel = text(re.search(r'data-testid="orders-panel"(.*?)</section>', html, re.S).group(1))
    assert "Given 3 times in this session, last at" in panel
    problems = sign_off_problems(_db.session.get(InfusionSession, infusion_session.id))
    waiting = [p for p in problems if "acknowledgement of the deviation" in p]
    assert len(waiting) == 2  # the second and third doses, not the first

    # A voided dose was not given: the limits are read against the doses that stand.
    client.post(
        f"/sessions/{infusion_session.id}/void/administration/{second}",
        data={"reason": "charted twice"},
    )
    _db.session.expire_all()
    html = client.get(f"/sessions/{infusion_session.id}").get_data(as_text=True)
    assert 'data-testid="deviations"' not in html
    assert first != third


def test_a_prn_order_without_limits_has_no_limit_deviation(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    infusion_session = charting["session"]
    order = order_for(
        infusion_session, "Ondansetron", "4", "mg", kind=OrderKind.PRN, indication="nausea"
    )
    for ago in (10, 9, 8):
        prn_dose(client, infusion_session, order, ago=ago)
    html = client.get(f"/sessions/{infusion_session.id}").get_data(as_text=True)
    assert 'data-testid="deviations"' not in html


def test_a_clinician_writes_an_order_for_this_session_alone_from_the_chart(
    client: FlaskClient, clinician_charting: dict[str, Any]
) -> None:
    infusion_session = clinician_charting["session"]
    chart = client.get(f"/sessions/{infusion_session.id}").get_data(as_text=True)
    link = re.search(r'href="([^"]+)" data-testid="new-session-order"', chart).group(1)
    assert link == f"/sessions/{infusion_session.id}/orders/new"
    page = client.get(link)
    assert page.status_code == 200 and "for this session only" in page.get_data(as_text=True)

    bad = client.post(link, data=order_form(dose_amount="-1", drug="Ondansetron"))
    assert bad.status_code == 422
    assert input_value(bad.get_data(as_text=True), "drug") == "Ondansetron"
    assert count(MedicationOrder) == 0

    done = client.post(
        link,
        data=order_form(
            kind="prn", drug="Ondansetron", dose_amount="4", indication="nausea", note=""
        ),
    )
    assert done.status_code == 302
    order = _db.session.scalars(sa.select(MedicationOrder)).one()
    assert (order.session_id, order.course_id) == (infusion_session.id, None)
    assert order.patient_id == infusion_session.patient_id
    assert audit_actions("order_written")
    panel = client.get(f"/sessions/{infusion_session.id}").get_data(as_text=True)
    assert f'data-order-id="{order.id}"' in panel
    # This session carries it out; another session of the course does not.
    course_id = infusion_session.course_id
    assert order.id in [o.id for o in orders_in_force(course_id, infusion_session.id)]
    assert order.id not in [o.id for o in orders_in_force(course_id, infusion_session.id + 1)]


def test_no_session_order_once_the_session_has_ended_and_none_from_a_nurse(
    client: FlaskClient, clinician_charting: dict[str, Any], login_as: Callable[..., User]
) -> None:
    infusion_session = clinician_charting["session"]
    link = f"/sessions/{infusion_session.id}/orders/new"
    stored = _db.session.get(InfusionSession, infusion_session.id)
    stored.status = SessionStatus.CANCELLED
    _db.session.commit()
    refused = client.post(link, data=order_form())
    assert refused.status_code == 422
    assert "written while it is in progress" in unescape(refused.get_data(as_text=True))
    chart = client.get(f"/sessions/{infusion_session.id}").get_data(as_text=True)
    assert "new-session-order" not in chart
    assert count(MedicationOrder) == 0
    client.post("/logout")
    login_as(Role.NURSE)
    assert client.get(link).status_code == 403
    assert client.post(link, data=order_form()).status_code == 403


# --- consent withdrawn during a session ---------------------------------------------------------


def test_a_consent_withdrawn_mid_session_refuses_treatment_but_not_rescue(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    infusion_session = charting["session"]
    treatment = order_for(infusion_session, dose="35", unit="mg")
    rescue = order_for(
        infusion_session,
        "Ondansetron",
        "4",
        "mg",
        method=treatment.method,
        kind=OrderKind.PRN,
        indication="nausea",
    )
    response = client.post(
        f"/patients/{infusion_session.patient_id}/consents/{infusion_session.consent_id}/withdraw",
        data={"reason": "Wants to stop treatment"},
    )
    assert response.status_code == 302

    refused = client.post(f"/sessions/{infusion_session.id}/administrations", data=given(treatment))
    assert refused.status_code == 422
    assert "withdrew the consent this session was opened under" in unescape(
        refused.get_data(as_text=True)
    )
    assert count(Administration) == 0

    taken = client.post(
        f"/sessions/{infusion_session.id}/administrations",
        data=given(rescue, drug="Ondansetron", dose_amount="4"),
    )
    assert taken.status_code == 302
    chart = text(client.get(f"/sessions/{infusion_session.id}").get_data(as_text=True))
    assert "withdrawn" in chart and "no further treatment under it" in chart


# --- exports --------------------------------------------------------------------------------------


def test_the_fhir_export_carries_consent_course_orders_and_each_administrations_request(
    client: FlaskClient, charting: dict[str, Any], login_as: Callable[..., User]
) -> None:
    from fhir.resources.R4B.bundle import Bundle

    from clinic.orders.services import OrderDetails, write_order
    from clinic.patients.courses.services import clinic_today, review_course

    infusion_session, clinician = charting["session"], charting["clinician"]
    first = order_for(infusion_session, dose="35", unit="mg")
    order = write_order(
        clinician,
        infusion_session.patient_id,
        OrderDetails(
            OrderKind.TREATMENT,
            "Ketamine hydrochloride",
            Decimal("40"),
            "mg",
            first.route,
            first.method,
            concentration="10 mg/mL",
            note="0.57 mg/kg for 70 kg",
        ),
        PASSWORD,
        None,
        supersedes_id=first.id,
    ).entry
    prn = order_for(
        infusion_session, "Ondansetron", "4", "mg", kind=OrderKind.PRN, indication="nausea"
    )
    review_course(
        clinician,
        infusion_session.patient_id,
        infusion_session.course_id,
        clinic_today(),
        "Good",
        None,
    )
    _db.session.commit()
    given_ = record_administration(
        infusion_session,
        charting["nurse"],
        "45",
        "mg",
        started_at=infusion_session.started_at,
        order=order,
    )
    client.post("/logout")
    login_as(Role.CLINICIAN)

    response = client.get(f"/patients/{infusion_session.patient_id}/export.json")
    assert response.status_code == 200
    data = json.loads(response.get_data(as_text=True))
    Bundle.model_validate(data)
    by_type: dict[str, list[dict[str, Any]]] = {}
    urls = {}
    for item in data["entry"]:
        by_type.setdefault(item["resource"]["resourceType"], []).append(item["resource"])
        urls[item["fullUrl"]] = item["resource"]
    [consent] = by_type["Consent"]
    assert consent["status"] == "active" and consent["scope"]["coding"][0]["code"] == "treatment"
    assert consent["provision"]["code"][0]["coding"][0]["code"] == "47625008"
    [plan] = by_type["CarePlan"]
    assert plan["status"] == "active" and plan["title"].startswith("Induction")
    assert "Good" in plan["note"][0]["text"]
    requests = {
        r["dosageInstruction"][0]["text"].split(",")[0]: r for r in by_type["MedicationRequest"]
    }
    assert requests["35 mg"]["status"] == "stopped" and requests["40 mg"]["status"] == "active"
    assert urls[requests["40 mg"]["priorPrescription"]["reference"]] is requests["35 mg"]
    assert requests["4 mg"]["dosageInstruction"][0]["asNeededCodeableConcept"] == {"text": "nausea"}
    assert (
        requests["40 mg"]["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] == 40
    )
    assert urls[requests["40 mg"]["basedOn"][0]["reference"]] is plan
    [administration] = by_type["MedicationAdministration"]
    assert urls[administration["request"]["reference"]] is requests["40 mg"]
    assert any(
        "Deviation from order" in note["text"] and "amount 45 mg, ordered 40 mg" in note["text"]
        for note in administration["note"]
    )
    assert given_.order_id == order.id and prn.id

    csv_text = client.get(f"/patients/{infusion_session.patient_id}/sessions.csv").get_data(
        as_text=True
    )
    assert (
        f"Ketamine hydrochloride 45 mg infusion (order {order.id}: 40 mg Intravenous (IV); "
        "deviation: amount 45 mg, ordered 40 mg, not acknowledged)"
    ) in csv_text
    [row] = csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff")))
    place = course_place(_db.session.get(InfusionSession, infusion_session.id))
    assert place is not None and row["Course"] == place.text
    assert "session 1 of" in row["Course"]
