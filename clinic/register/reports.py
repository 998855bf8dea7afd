"""The register's reports for a date range (21 CFR 1304): the dispensing log, the waste with its
witnesses, and the inventory at a date. Each reads in one statement however many lots and entries
the range holds. Quantities are the ledger's as entered, shown positive with their direction in
the column's name; nothing is summed but the inventory's balance, which is the ledger's sum.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from clinic.auth.models import User
from clinic.clinic_time import format_local, from_local
from clinic.clinical_numbers import decimal_text
from clinic.extensions import db
from clinic.patients.models import Patient
from clinic.register.models import EntryKind, LedgerEntry, StockLot
from clinic.sessions.models import Administration


@dataclass(frozen=True)
class DateRange:
    start: date
    end: date

    @property
    def bounds(self) -> tuple[datetime, datetime]:
        """From the start of the first day to the end of the last, in the clinic's zone."""
        return start_of(self.start), start_of(self.end + timedelta(days=1))


def start_of(day: date) -> datetime:
    return from_local(datetime.combine(day, time.min))


@dataclass(frozen=True)
class DispensingRow:
    entry: LedgerEntry
    lot: StockLot
    patient: Patient | None
    given_by: User
    drawn: Decimal | None
    wasted: Decimal | None
    waste_witness: User | None
    voided: bool

    @property
    def cells(self) -> list[str]:
        return [
            format_local(self.entry.occurred_at),
            self.patient.display_name if self.patient else "",
            self.patient.mrn if self.patient else "",
            self.lot.drug,
            self.lot.strength,
            self.lot.form.label,
            self.lot.ndc,
            self.lot.lot_number,
            _text(self.drawn),
            _text(-self.entry.quantity),
            _text(self.wasted),
            self.lot.unit,
            self.given_by.display_name,
            self.waste_witness.display_name if self.waste_witness else "",
            str(self.entry.administration_id or ""),
            "voided" if self.voided else "",
        ]


DISPENSING_HEADER = (
    "Date and time",
    "Patient",
    "MRN",
    "Drug",
    "Strength",
    "Form",
    "NDC",
    "Lot",
    "Drawn",
    "Given",
    "Wasted",
    "Unit",
    "Given by",
    "Waste witnessed by",
    "Administration",
    "Voided",
)


def _text(value: Decimal | None) -> str:
    return "" if value is None else decimal_text(value)


def dispensing_log(period: DateRange) -> list[DispensingRow]:
    """Every draw for an administration in the range, with its patient, who gave it, the waste of
    the same draw and its witness, and whether the draw was voided: one statement."""
    start, end = period.bounds
    waste = aliased(LedgerEntry)
    void = aliased(LedgerEntry)
    giver = aliased(User)
    witness = aliased(User)
    rows = db.session.execute(
        sa.select(LedgerEntry, StockLot, Patient, giver, waste.quantity, witness, void.id)
        .join(StockLot, StockLot.id == LedgerEntry.lot_id)
        .join(giver, giver.id == LedgerEntry.recorded_by_id)
        .outerjoin(Patient, Patient.id == LedgerEntry.patient_id)
        .outerjoin(
            waste,
            sa.and_(
                waste.administration_id == LedgerEntry.administration_id,
                waste.kind == EntryKind.WASTE,
            ),
        )
        .outerjoin(witness, witness.id == waste.witness_id)
        .outerjoin(void, void.voids_id == LedgerEntry.id)
        .where(
            LedgerEntry.kind == EntryKind.DRAW,
            LedgerEntry.occurred_at >= start,
            LedgerEntry.occurred_at < end,
        )
        .order_by(LedgerEntry.occurred_at, LedgerEntry.id)
    ).all()
    return [
        DispensingRow(
            entry=entry,
            lot=lot,
            patient=patient,
            given_by=given_by,
            drawn=entry.drawn,
            wasted=None if wasted is None else -wasted,
            waste_witness=waste_witness,
            voided=void_id is not None,
        )
        for entry, lot, patient, given_by, wasted, waste_witness, void_id in rows
    ]


@dataclass(frozen=True)
class WasteRow:
    entry: LedgerEntry
    lot: StockLot
    patient: Patient | None
    wasted_by: User
    witness: User | None
    voided: bool

    @property
    def cells(self) -> list[str]:
        return [
            format_local(self.entry.occurred_at),
            self.lot.drug,
            self.lot.strength,
            self.lot.lot_number,
            _text(-self.entry.quantity),
            self.lot.unit,
            self.patient.display_name if self.patient else "",
            self.wasted_by.display_name,
            self.witness.display_name if self.witness else "",
            self.entry.reason,
            "voided" if self.voided else "",
        ]


WASTE_HEADER = (
    "Date and time",
    "Drug",
    "Strength",
    "Lot",
    "Wasted",
    "Unit",
    "Patient (administration)",
    "Wasted by",
    "Witnessed by",
    "Reason",
    "Voided",
)


def waste_log(period: DateRange) -> list[WasteRow]:
    start, end = period.bounds
    void = aliased(LedgerEntry)
    waster = aliased(User)
    witness = aliased(User)
    rows = db.session.execute(
        sa.select(LedgerEntry, StockLot, Patient, waster, witness, void.id)
        .join(StockLot, StockLot.id == LedgerEntry.lot_id)
        .join(waster, waster.id == LedgerEntry.recorded_by_id)
        .outerjoin(witness, witness.id == LedgerEntry.witness_id)
        .outerjoin(Patient, Patient.id == LedgerEntry.patient_id)
        .outerjoin(void, void.voids_id == LedgerEntry.id)
        .where(
            LedgerEntry.kind == EntryKind.WASTE,
            LedgerEntry.occurred_at >= start,
            LedgerEntry.occurred_at < end,
        )
        .order_by(LedgerEntry.occurred_at, LedgerEntry.id)
    ).all()
    return [
        WasteRow(entry, lot, patient, wasted_by, witness_user, void_id is not None)
        for entry, lot, patient, wasted_by, witness_user, void_id in rows
    ]


@dataclass(frozen=True)
class InventoryRow:
    lot: StockLot
    on_hand: Decimal

    @property
    def cells(self) -> list[str]:
        return [
            self.lot.drug,
            self.lot.strength,
            self.lot.form.label,
            self.lot.ndc,
            self.lot.lot_number,
            self.lot.expires_on.isoformat(),
            _text(self.on_hand),
            self.lot.unit,
        ]


INVENTORY_HEADER = ("Drug", "Strength", "Form", "NDC", "Lot", "Expiry", "On hand", "Unit")


def inventory_at(day: date) -> list[InventoryRow]:
    """What the ledger says was on hand at the end of `day`, lot by lot (lots received by then
    and not yet used up): one statement."""
    end = start_of(day + timedelta(days=1))
    on_hand = sa.func.coalesce(sa.func.sum(LedgerEntry.quantity), 0)
    rows = db.session.execute(
        sa.select(StockLot, on_hand)
        .join(LedgerEntry, LedgerEntry.lot_id == StockLot.id)
        .where(LedgerEntry.occurred_at < end)
        .group_by(StockLot.id)
        .having(on_hand != 0)
        .order_by(StockLot.drug, StockLot.expires_on, StockLot.id)
    ).all()
    return [InventoryRow(lot, Decimal(total)) for lot, total in rows]


def draws_of_session(session_id: int) -> dict[int, list[LedgerEntry]]:
    """The register entries (draws, waste, their voids) of a session's administrations, by
    administration, for the chart: one statement."""
    found: dict[int, list[LedgerEntry]] = {}
    entries = db.session.scalars(
        sa.select(LedgerEntry)
        .join(Administration, Administration.id == LedgerEntry.administration_id)
        .where(Administration.session_id == session_id)
        .order_by(LedgerEntry.id)
    )
    for entry in entries:
        found.setdefault(entry.administration_id or 0, []).append(entry)
    return found
