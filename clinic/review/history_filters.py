"""The filters of a patient's history page: what the clinician asks for, checked, as a query."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa

from clinic.clinic_time import from_local
from clinic.patients.models import Indication
from clinic.request_bounds import DATE_MAX, DATE_MIN, DATE_RANGE_MESSAGE
from clinic.sessions.models import (
    InfusionSession,
    Route,
    SessionStatus,
    Signature,
)

SIGNED_CHOICES = {"signed": True, "unsigned": False}


@dataclass(frozen=True)
class HistoryFilters:
    """The GET filters of the timeline; empty means the whole history."""

    date_from: date | None = None
    date_to: date | None = None
    route: Route | None = None
    indication: Indication | None = None
    signed: bool | None = None

    @property
    def active(self) -> bool:
        return any(value is not None for value in vars(self).values())

    def as_args(self) -> dict[str, str]:
        """Query-string arguments that reproduce these filters (for pagination links)."""
        args: dict[str, str] = {}
        if self.date_from:
            args["from"] = self.date_from.isoformat()
        if self.date_to:
            args["to"] = self.date_to.isoformat()
        if self.route:
            args["route"] = self.route.value
        if self.indication:
            args["indication"] = self.indication.value
        if self.signed is not None:
            args["signed"] = "signed" if self.signed else "unsigned"
        return args


def parse_filters(args: Mapping[str, str]) -> tuple[HistoryFilters, dict[str, str]]:
    """Filters from query-string values, and a message per field that could not be read.

    A value that cannot be read is ignored (with its message) rather than refused: a clinician
    with a mistyped date still sees the history.
    """
    errors: dict[str, str] = {}

    def day(name: str) -> date | None:
        text = (args.get(name) or "").strip()
        if not text:
            return None
        try:
            value = date.fromisoformat(text)
        except ValueError:
            errors[name] = "Enter a date as YYYY-MM-DD."
            return None
        # Within the range every date of the app keeps: the day after it, the end of the filter,
        # must not overflow.
        if not DATE_MIN <= value <= DATE_MAX:
            errors[name] = DATE_RANGE_MESSAGE
            return None
        return value

    def member(name: str, enum_cls: Any) -> Any:
        text = (args.get(name) or "").strip()
        if not text:
            return None
        try:
            return enum_cls(text)
        except ValueError:
            errors[name] = "Choose one of the listed values."
            return None

    date_from, date_to = day("from"), day("to")
    if date_from and date_to and date_from > date_to:
        errors["to"] = "The end date is before the start date."
        date_to = None
    signed_text = (args.get("signed") or "").strip()
    if signed_text and signed_text not in SIGNED_CHOICES:
        errors["signed"] = "Choose signed or unsigned."
    return (
        HistoryFilters(
            date_from=date_from,
            date_to=date_to,
            route=member("route", Route),
            indication=member("indication", Indication),
            signed=SIGNED_CHOICES.get(signed_text),
        ),
        errors,
    )


def matching(patient_id: int, filters: HistoryFilters) -> list[sa.ColumnElement[bool]]:
    """The WHERE conditions of the patient's sessions matching the filters."""
    conditions: list[sa.ColumnElement[bool]] = [InfusionSession.patient_id == patient_id]
    if filters.date_from:
        # Dates are the clinic's calendar days, so the bounds are its local midnights in UTC.
        conditions.append(
            InfusionSession.started_at >= from_local(datetime.combine(filters.date_from, time()))
        )
    if filters.date_to:
        next_day = datetime.combine(filters.date_to + timedelta(days=1), time())
        conditions.append(InfusionSession.started_at < from_local(next_day))
    if filters.route:
        conditions.append(InfusionSession.route == filters.route)
    if filters.indication:
        conditions.append(InfusionSession.indication == filters.indication)
    if filters.signed is True:
        conditions.append(InfusionSession.status == SessionStatus.SIGNED)
    elif filters.signed is False:
        conditions.append(InfusionSession.status != SessionStatus.SIGNED)
    return conditions


def history_statement(patient_id: int, filters: HistoryFilters) -> sa.Select[Any]:
    """The patient's sessions matching the filters, newest first, with their signature.

    Plain columns, not ORM objects: a row shows a handful of them, and building and tracking a
    page of full InfusionSession objects cost more than reading it.
    """
    return (
        sa.select(
            InfusionSession.id,
            InfusionSession.started_at,
            InfusionSession.indication,
            InfusionSession.route,
            InfusionSession.status,
            InfusionSession.cancel_reason,
            Signature.id.label("signature_id"),
            Signature.signer_name,
            Signature.signer_credentials,
            Signature.signed_at,
        )
        # Joined, not read apart: the signature is part of every row (one at most per session).
        .outerjoin(Signature, Signature.session_id == InfusionSession.id)
        .where(*matching(patient_id, filters))
        .order_by(InfusionSession.started_at.desc(), InfusionSession.id.desc())
    )
