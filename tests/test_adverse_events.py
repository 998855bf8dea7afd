"""Adverse events and rescue medicines (issue 14): an event with onset, type, severity, actions,
resolution and outcome; a rescue medicine is an administration with purpose rescue (a PRN order)
linked to its event, listed with it on the chart and the print page; it never moves T+0."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from clinic.auth.models import User
from clinic.database import utcnow
from clinic.extensions import db as _db
from clinic.orders.models import OrderKind
from clinic.sessions.chart import administrations_of
from clinic.sessions.entries import ChartError
from clinic.sessions.guards import SessionLockedError
from clinic.sessions.models import (
    Administration,
    AdministrationPurpose,
    AdverseEvent,
    AdverseEventOutcome,
    AdverseEventSeverity,
    AdverseEventType,
    InfusionSession,
    Method,
    Route,
    Signature,
)
from clinic.sessions.services import administrations as administrations_services
from clinic.sessions.services.administrations import AdministrationDetails
from clinic.sessions.services.adverse_events import (
    AdverseEventDetails,
    record_adverse_event,
    resolve_adverse_event,
)
from clinic.sessions.services.signoff import signature_matches
from clinic.sessions.services.voiding import void_entry
from clinic.sessions.vitals import first_dosing_time
from tests.conftest import PASSWORD
from tests.factories import (
    make_patient,
    make_ready_to_sign,
    open_session_for,
    order_for,
    record_administration,
    sign,
)
from tests.helpers import audit_actions, local_text, minute, sign_in_db, submission_key


def emergence(charting: dict[str, Any], minutes: int = 12, **changed: Any) -> AdverseEvent:
    values: dict[str, Any] = {
        "occurred_at": charting["start"] + timedelta(minutes=minutes),
        "type": AdverseEventType.EMERGENCE_REACTION,
        "severity": AdverseEventSeverity.MODERATE,
        "actions": ["infusion_paused", "medication"],
        "note": "Agitated, frightened",
    }
    saved = record_adverse_event(
        charting["nurse"], charting["session"].id, AdverseEventDetails(**(values | changed)), None
    )
    _db.session.commit()
    return saved.entry


def give(
    infusion_session: InfusionSession,
    user: User,
    at: datetime,
    *,
    kind: OrderKind = OrderKind.PRN,
    event_id: int | None = None,
) -> Administration:
    drug = "Midazolam" if kind == OrderKind.PRN else "Ketamine hydrochloride"
    order = order_for(
        infusion_session,
        drug,
        "2",
        "mg",
        method=Method.INJECTION,
        kind=kind,
        indication="emergence reaction" if kind == OrderKind.PRN else "",
    )
    written = administrations_services.record_administration(
        user,
        infusion_session.id,
        AdministrationDetails(
            drug=drug,
            route=Route.IV,
            method=Method.INJECTION,
            dose_amount=Decimal(2),
            dose_unit="mg",
            rate_amount=None,
            rate_unit=None,
            started_at=at,
            ended_at=None,
            site="",
            lot_number="",
            ordering_clinician_id=None,
            note="",
            order_id=order.id,
            adverse_event_id=event_id,
        ),
        None,
    )
    _db.session.commit()
    return _db.session.get(Administration, written.entry.id)


def test_an_emergence_reaction_with_midazolam_is_listed_on_the_chart_and_print_page(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    infusion_session, nurse = charting["session"], charting["nurse"]
    treatment = record_administration(infusion_session, nurse, started_at=charting["start"])
    event = emergence(charting)
    rescue = give(
        infusion_session, nurse, charting["start"] + timedelta(minutes=14), event_id=event.id
    )

    assert rescue.purpose == AdministrationPurpose.RESCUE
    assert rescue.adverse_event_id == event.id
    assert first_dosing_time(administrations_of(infusion_session.id)) == treatment.started_at
    for page in (f"/sessions/{infusion_session.id}", f"/sessions/{infusion_session.id}/print"):
        html = " ".join(client.get(page).get_data(as_text=True).split())
        assert "<strong>Emergence reaction</strong> · Moderate" in html
        assert 'data-testid="rescue-medicines"' in html
        assert "Rescue: Midazolam 2 mg" in html


def test_a_rescue_medicine_linked_to_an_event_does_not_move_t_zero(
    charting: dict[str, Any],
) -> None:
    infusion_session, nurse = charting["session"], charting["nurse"]
    event = emergence(charting, minutes=1)
    give(infusion_session, nurse, charting["start"] + timedelta(minutes=2), event_id=event.id)
    treatment = record_administration(
        infusion_session, nurse, started_at=charting["start"] + timedelta(minutes=8)
    )
    assert first_dosing_time(administrations_of(infusion_session.id)) == treatment.started_at


def test_a_treatment_is_never_given_for_an_adverse_event(charting: dict[str, Any]) -> None:
    event = emergence(charting)
    with pytest.raises(ChartError, match="Only a rescue medicine") as refused:
        give(
            charting["session"],
            charting["nurse"],
            charting["start"] + timedelta(minutes=14),
            kind=OrderKind.TREATMENT,
            event_id=event.id,
        )
    assert refused.value.field == "adverse_event_id"


def test_a_rescue_for_another_sessions_event_is_refused(
    charting: dict[str, Any], make_user: Any
) -> None:
    event = emergence(charting)
    other = open_session_for(make_patient(), charting["nurse"], charting["clinician"])
    with pytest.raises(ChartError, match="this session's adverse events"):
        give(other, charting["nurse"], minute(utcnow()), event_id=event.id)


def test_an_adverse_event_is_recorded_from_the_chart_once_and_audited(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    sid = charting["session"].id
    html = client.get(f"/sessions/{sid}").get_data(as_text=True)
    data = {
        "adverse-event-submission_key": submission_key(html, f"/sessions/{sid}/adverse-events"),
        "adverse-event-occurred_at": local_text(charting["start"] + timedelta(minutes=10)),
        "adverse-event-time_edited": "true",
        "adverse-event-type": "desaturation",
        "adverse-event-severity": "mild",
        "adverse-event-actions": ["oxygen"],
        "adverse-event-note": "SpO2 91%",
    }
    assert client.post(f"/sessions/{sid}/adverse-events", data=data).status_code == 302
    assert client.post(f"/sessions/{sid}/adverse-events", data=data).status_code == 302
    [event] = _db.session.scalars(sa.select(AdverseEvent)).all()
    assert event.type == AdverseEventType.DESATURATION and event.actions == ["oxygen"]
    [audited] = audit_actions("adverse_event_recorded")
    assert json.loads(audited.changes)["actions"] == ["oxygen"]


def test_an_adverse_event_needs_a_type_and_a_severity(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    sid = charting["session"].id
    response = client.post(
        f"/sessions/{sid}/adverse-events",
        data={"adverse-event-note": "Something happened"},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Choose the type." in page and "Choose the severity." in page
    assert "Something happened" in page


def test_the_resolution_is_recorded_once_and_audited(charting: dict[str, Any]) -> None:
    event = emergence(charting)
    at = charting["start"] + timedelta(minutes=20)
    sid = charting["session"].id
    resolve_adverse_event(charting["nurse"], sid, event.id, at, AdverseEventOutcome.RESOLVED)
    resolve_adverse_event(charting["nurse"], sid, event.id, at, AdverseEventOutcome.RESOLVED)
    _db.session.commit()
    assert _db.session.get(AdverseEvent, event.id).resolved_at == at
    assert len(audit_actions("adverse_event_resolved")) == 1
    with pytest.raises(ChartError, match="already recorded"):
        resolve_adverse_event(charting["nurse"], sid, event.id, at, AdverseEventOutcome.TRANSFERRED)


def test_a_resolution_before_the_onset_is_refused(charting: dict[str, Any]) -> None:
    event = emergence(charting)
    with pytest.raises(ChartError) as refused:
        resolve_adverse_event(
            charting["nurse"],
            charting["session"].id,
            event.id,
            event.occurred_at - timedelta(minutes=1),
            AdverseEventOutcome.RESOLVED,
        )
    assert refused.value.field == "resolved_at"


def test_a_voided_event_stays_listed_struck_through(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    event = emergence(charting)
    void_entry(charting["nurse"], charting["session"].id, "adverse_event", event.id, "Wrong chart")
    _db.session.commit()
    html = client.get(f"/sessions/{charting['session'].id}").get_data(as_text=True)
    assert f'data-testid="void-mark-adverse_event-{event.id}"' in html
    assert "Wrong chart" in html


def test_an_adverse_event_after_signing_is_refused(charting: dict[str, Any]) -> None:
    sign_in_db(charting["session"].id)
    with pytest.raises(SessionLockedError):
        emergence(charting)


def test_every_adverse_event_column_is_signed(charting: dict[str, Any]) -> None:
    """Adverse events are in the signed content (digest.ADDED_ENTRY_MODELS)."""
    event = emergence(charting)
    make_ready_to_sign(charting["session"], charting["clinician"])
    sign(charting["session"], charting["clinician"], PASSWORD)
    assert signature_matches(_db.session.scalar(sa.select(Signature)))
    table = AdverseEvent.__table__
    other = open_session_for(make_patient(), charting["nurse"], charting["clinician"])
    changed = {
        "occurred_at": event.occurred_at + timedelta(minutes=1),
        "type": "oversedation",
        "severity": "severe",
        "actions": ["oxygen"],
        "resolved_at": event.occurred_at + timedelta(minutes=5),
        "outcome": "resolved",
        "note": "Changed",
        "recorded_at": event.recorded_at + timedelta(minutes=1),
        "voided_at": utcnow(),
        "void_reason": "Behind the app's back",
        "session_id": other.id,
        "recorded_by_id": charting["clinician"].id,
        "voided_by_id": charting["nurse"].id,
    }
    assert set(changed) == {c.name for c in table.columns} - {"id"}
    for column, value in changed.items():
        original = _db.session.scalar(sa.select(table.c[column]).where(table.c.id == event.id))
        update = sa.update(table).where(table.c.id == event.id)
        _db.session.execute(update.values({column: value}))
        _db.session.commit()
        _db.session.expire_all()
        assert not signature_matches(_db.session.scalar(sa.select(Signature))), column
        _db.session.execute(update.values({column: original}))
        _db.session.commit()
        _db.session.expire_all()
    assert signature_matches(_db.session.scalar(sa.select(Signature)))
