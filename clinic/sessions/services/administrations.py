"""Administrations and the infusion events on them, stored exactly as entered.

An administration carries out a signed order in force for the session (DESIGN.md invariant 8): an
order superseded or discontinued while the chart was open is refused, with the orders in force
shown, and no treatment is given once the consent the session was opened under is withdrawn.
What was given is stored as entered, whatever the order said: a difference is a deviation shown
for a clinician to acknowledge (clinic/sessions/deviations.py), never corrected.

Nothing here computes, suggests or totals a dose, a rate or a volume."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa

from clinic.auth.models import Role, User
from clinic.clinic_time import format_local
from clinic.extensions import db
from clinic.orders.models import MedicationOrder, OrderKind
from clinic.orders.services import OrderNotInForceError, applies_to, lock_order
from clinic.register.services import DrawDetails, check_draw_entry, draw_for_administration
from clinic.sessions.entries import (
    ChartError,
    audit_values,
    begin_entry,
    require_time_in_session,
    store_entry,
)
from clinic.sessions.models import (
    Administration,
    AdministrationPurpose,
    AdverseEvent,
    InfusionEvent,
    InfusionEventKind,
    InfusionSession,
    Method,
    Route,
)
from clinic.sessions.services.screening import require_screening_allows_treatment
from clinic.sessions.services.staff import require_active
from clinic.submissions import Saved

# An administration that names no register lot (a drug the register does not hold, or one it
# holds no lot of yet).
NO_DRAW = DrawDetails(None, None, None, None, None)  # type: ignore[arg-type]


@dataclass(frozen=True)
class AdministrationDetails:
    drug: str
    route: Route
    method: Method
    dose_amount: Decimal
    dose_unit: str
    rate_amount: Decimal | None
    rate_unit: str | None
    started_at: datetime
    ended_at: datetime | None
    site: str
    lot_number: str
    ordering_clinician_id: int | None
    note: str
    order_id: int | None = None
    concentration: str | None = None
    volume_ml: Decimal | None = None
    purpose: AdministrationPurpose = AdministrationPurpose.TREATMENT
    adverse_event_id: int | None = None


@dataclass(frozen=True)
class InfusionEventDetails:
    kind: InfusionEventKind
    occurred_at: datetime
    rate_amount: Decimal | None = None
    rate_unit: str | None = None
    bolus_amount: Decimal | None = None
    bolus_unit: str | None = None
    note: str = ""


def record_administration(
    actor: User,
    session_id: int,
    details: AdministrationDetails,
    submission_key: str | None,
    draw: DrawDetails = NO_DRAW,
) -> Saved[Administration]:
    """Store the administration; one of a controlled drug lands its draw and any waste in the
    register lot's ledger in the same transaction (clinic/register/services.py)."""
    infusion_session, earlier = begin_entry(Administration, session_id, submission_key, actor=actor)
    if earlier is not None:
        return earlier
    require_active(
        details.ordering_clinician_id, Role.CLINICIAN, "ordering_clinician_id", "clinician"
    )
    require_time_in_session(infusion_session, details.started_at, "started_at")
    require_time_in_session(infusion_session, details.ended_at, "ended_at")
    if details.ended_at is not None and details.ended_at < details.started_at:
        # Checked here as well as on the form: an untouched start is stamped "now" at saving.
        raise ChartError("The end is before the start.", "ended_at")
    order = require_order_in_force(infusion_session, details.order_id)
    # The purpose follows the order carried out: a PRN order's medicine is a rescue, which never
    # moves T+0 nor the observation clock; the treatment order's is the treatment.
    details = replace(
        details,
        purpose=(
            AdministrationPurpose.RESCUE
            if order.kind == OrderKind.PRN
            else AdministrationPurpose.TREATMENT
        ),
    )
    if details.purpose == AdministrationPurpose.TREATMENT:
        require_screening_allows_treatment(infusion_session)
    require_adverse_event(infusion_session, details)
    check_draw_entry(details.drug, draw)
    administration = Administration(
        session_id=infusion_session.id, recorded_by_id=actor.id, **asdict(details)
    )
    stored = store_entry(
        actor,
        administration,
        patient_id=infusion_session.patient_id,
        action="administration_recorded",
        changes={"session_id": [None, infusion_session.id], **audit_values(details)},
        submission_key=submission_key,
    )
    draw_for_administration(
        actor,
        drug=details.drug,
        draw=draw,
        administration_id=stored.entry.id,
        patient_id=infusion_session.patient_id,
        occurred_at=details.started_at,
    )
    return stored


def require_adverse_event(
    infusion_session: InfusionSession, details: AdministrationDetails
) -> None:
    """A rescue medicine may name the session's adverse event it was given for; a treatment
    never does."""
    if details.adverse_event_id is None:
        return
    if details.purpose != AdministrationPurpose.RESCUE:
        raise ChartError(
            "Only a rescue medicine (a PRN order) is given for an adverse event.",
            "adverse_event_id",
        )
    event = db.session.get(AdverseEvent, details.adverse_event_id)
    if event is None or event.session_id != infusion_session.id or event.is_voided:
        raise ChartError("Choose one of this session's adverse events.", "adverse_event_id")


def require_order_in_force(
    infusion_session: InfusionSession, order_id: int | None
) -> MedicationOrder:
    """The order exists, is the session's, is still in force (its row locked, so a supersession
    in flight is waited for and seen), and a treatment order finds the session's consent still
    given."""
    if order_id is None:
        raise ChartError("Choose the signed order you are carrying out.", "order_id")
    order = lock_order(order_id)
    if order is None or not applies_to(order, infusion_session.course_id, infusion_session.id):
        raise ChartError("Choose one of this session's orders in force.", "order_id")
    if not order.in_force:
        raise OrderNotInForceError(order, "order_id")
    consent = infusion_session.consent
    if order.kind == OrderKind.TREATMENT and consent is not None and consent.withdrawn_at:
        raise ChartError(
            f"The patient withdrew the consent this session was opened under "
            f"({format_local(consent.withdrawn_at)}): no further treatment is given in it.",
            "order_id",
        )
    return order


def record_infusion_event(
    actor: User,
    session_id: int,
    administration_id: int,
    details: InfusionEventDetails,
    submission_key: str | None,
) -> Saved[InfusionEvent]:
    infusion_session, earlier = begin_entry(
        InfusionEvent,
        session_id,
        submission_key,
        actor=actor,
        same_form=lambda e: e.administration_id == administration_id,
    )
    if earlier is not None:
        return earlier
    administration = db.session.scalar(
        sa.select(Administration).where(
            Administration.id == administration_id, Administration.session_id == session_id
        )
    )
    if administration is None:
        raise ChartError("This administration is not part of this session.")
    require_time_in_session(infusion_session, details.occurred_at, "occurred_at")
    if administration.method != Method.INFUSION:
        raise ChartError("Infusion events are recorded only for an infusion.")
    if administration.is_voided:
        raise ChartError("This administration was voided; it takes no more events.")
    stopped = db.session.scalar(
        sa.select(InfusionEvent.occurred_at)
        .where(
            InfusionEvent.administration_id == administration.id,
            InfusionEvent.kind == InfusionEventKind.STOPPED,
            InfusionEvent.voided_at.is_(None),
        )
        .limit(1)
    )
    if stopped is not None:
        raise ChartError(
            "This infusion has been stopped; it takes no more events. "
            "Record a new administration if it is restarted."
        )
    event = InfusionEvent(
        session_id=infusion_session.id,
        administration_id=administration.id,
        recorded_by_id=actor.id,
        **asdict(details),
    )
    return store_entry(
        actor,
        event,
        patient_id=infusion_session.patient_id,
        action="infusion_event_recorded",
        changes={
            "session_id": [None, infusion_session.id],
            "administration_id": [None, administration.id],
            **audit_values(details),
        },
        submission_key=submission_key,
    )
