"""How an administration differs from the order it carries out: the entered values compared,
never a value derived. An amount in another unit than the order's is a deviation as it stands:
converting one into the other would be computing a dose."""

from __future__ import annotations

from typing import Any

from clinic.clinical_numbers import decimal_text


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
    return found


def awaits_acknowledgement(administration: Any) -> bool:
    """A deviation on the record that no clinician has acknowledged yet."""
    return (
        not administration.is_voided
        and administration.deviation_acknowledged_at is None
        and bool(deviations_of(administration, administration.order))
    )
