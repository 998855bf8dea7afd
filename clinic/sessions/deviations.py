"""How an administration differs from the order it carries out: the entered values compared,
never a value derived. An amount in another unit than the order's is a deviation as it stands:
converting one into the other would be computing a dose.

A PRN order also bounds how often it is given: a dose sooner than its minimum interval after the
previous dose under the same order, or beyond its maximum doses a session, is recorded as given
(refusing it would leave a dose that was given off the record) and shown as a deviation for a
clinician to acknowledge, like any other."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from clinic.clinical_numbers import decimal_text
from clinic.extensions import db
from clinic.orders.models import OrderKind
from clinic.sessions.models import Administration


def deviations_of(administration: Any, order: Any) -> list[str]:
    """The differences in words ("amount 40 mg, ordered 35 mg"); empty without an order."""
    if order is None:
        return []
    found = []
    same_unit = administration.dose_unit.strip().lower() == order.dose_unit.strip().lower()
    if not same_unit or administration.dose_amount != order.dose_amount:
        found.append(
            f"amount {decimal_text(administration.dose_amount)} {administration.dose_unit}, "
            f"ordered {decimal_text(order.dose_amount)} {order.dose_unit}"
        )
    if administration.route != order.route:
        found.append(f"route {administration.route.label}, ordered {order.route.label}")
    if order.kind == OrderKind.PRN and not administration.is_voided:
        found.extend(prn_limit_deviations(administration, order))
    return found


def prn_limit_deviations(administration: Any, order: Any) -> list[str]:
    """The PRN order's limits, read against the earlier doses under it in the same session that
    still stand (a voided dose was not given)."""
    if order.min_interval_minutes is None and order.max_doses_per_session is None:
        return []
    earlier = earlier_doses(administration)
    found = []
    if order.min_interval_minutes is not None and earlier:
        minutes = _whole_minutes(administration.started_at - earlier[-1])
        if minutes < order.min_interval_minutes:
            found.append(
                f"given {minutes} min after the previous dose, "
                f"ordered at least {order.min_interval_minutes} min apart"
            )
    number = len(earlier) + 1
    if order.max_doses_per_session is not None and number > order.max_doses_per_session:
        found.append(
            f"dose {number} in this session, ordered at most {order.max_doses_per_session}"
        )
    return found


def earlier_doses(administration: Any) -> list[datetime]:
    """When the doses given before this one under the same order in the session started, oldest
    first; a dose charted with the same start time counts as earlier when it was charted first."""
    started, own_id = administration.started_at, administration.id
    before = Administration.started_at < started
    if own_id is not None:  # not yet flushed: every dose on the record is earlier
        before = sa.or_(
            before, sa.and_(Administration.started_at == started, Administration.id < own_id)
        )
    else:
        before = Administration.started_at <= started
    return list(
        db.session.scalars(
            sa.select(Administration.started_at)
            .where(
                Administration.session_id == administration.session_id,
                Administration.order_id == administration.order_id,
                Administration.voided_at.is_(None),
                before,
            )
            .order_by(Administration.started_at, Administration.id)
        )
    )


def doses_by_order(administrations: list[Any]) -> dict[int, list[datetime]]:
    """When each order's doses that stand started, for the orders panel ("given 2 times in this
    session, last at 10:42"): times read off the record, no amount summed."""
    doses: dict[int, list[datetime]] = {}
    for administration in administrations:
        if administration.order_id is not None and not administration.is_voided:
            doses.setdefault(administration.order_id, []).append(administration.started_at)
    return {order_id: sorted(times) for order_id, times in doses.items()}


def _whole_minutes(elapsed: Any) -> int:
    return int(elapsed.total_seconds() // 60)


def awaits_acknowledgement(administration: Any) -> bool:
    """A deviation on the record that no clinician has acknowledged yet."""
    return (
        not administration.is_voided
        and administration.deviation_acknowledged_at is None
        and bool(deviations_of(administration, administration.order))
    )
