"""An order written for one session alone (a one-off dose, a PRN for today's chair), from the
chart: the orders package records and signs it; whose session it is, and that it is still in
progress, is the chart's to check."""

from __future__ import annotations

from clinic.auth.models import User
from clinic.orders import services as order_services
from clinic.orders.models import MedicationOrder
from clinic.sessions.guards import SessionLockedError, lock_session_for_change
from clinic.sessions.models import SessionStatus
from clinic.submissions import Saved


def write_session_order(
    actor: User,
    session_id: int,
    details: order_services.OrderDetails,
    password: str,
    submission_key: str | None,
) -> Saved[MedicationOrder]:
    """Sign an order for this session only, while it is in progress."""
    order_services.check_password(actor, password)
    try:
        infusion_session = lock_session_for_change(session_id)
    except SessionLockedError as error:
        raise order_services.OrderError(error.message) from error
    if infusion_session.status != SessionStatus.IN_PROGRESS:
        raise order_services.OrderError(
            "This session has ended: an order for it is written while it is in progress."
        )
    return order_services.record_signed_order(
        actor,
        infusion_session.patient_id,
        details,
        submission_key,
        session_id=infusion_session.id,
    )
