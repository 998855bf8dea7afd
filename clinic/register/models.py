"""Stock lots and their ledger.

A lot is what one delivery brought of one manufacturer's lot. Its ledger is never edited: every
movement is a new row, and a mistake is put right by a reversing entry (a void) with a reason. The
balance is the sum of the ledger's quantities, each one stored as it was entered (a draw or a
waste negative, a receipt positive); nothing is rounded.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinic.auth.models import User
from clinic.database import UTCDateTime, utcnow
from clinic.extensions import db
from clinic.patients.models import enum_column

QUANTITY = sa.Numeric(14, 4)


class LotForm(enum.StrEnum):
    VIAL = "vial"
    NASAL_DEVICE = "nasal_device"

    @property
    def label(self) -> str:
        return {"vial": "Vial", "nasal_device": "Nasal spray device"}[self.value]

    @property
    def unit(self) -> str:
        """What the ledger counts: millilitres of a vial, whole devices."""
        return "mL" if self is LotForm.VIAL else "device"


class EntryKind(enum.StrEnum):
    RECEIPT = "receipt"
    DRAW = "draw"
    WASTE = "waste"
    RETURN = "return"
    CORRECTION = "correction"
    COUNT = "count"
    VOID = "void"

    @property
    def label(self) -> str:
        return {
            "receipt": "Received",
            "draw": "Given (drawn for an administration)",
            "waste": "Wasted",
            "return": "Returned",
            "correction": "Count correction",
            "count": "Count",
            "void": "Void (reversal)",
        }[self.value]


class StockLot(db.Model):
    __tablename__ = "stock_lot"
    __table_args__ = (sa.UniqueConstraint("lot_number", "invoice"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    drug: Mapped[str] = mapped_column(sa.String(60))
    strength: Mapped[str] = mapped_column(sa.String(60))
    form: Mapped[LotForm] = mapped_column(enum_column(LotForm))
    # A vial's content in mL, as on the label; none for a nasal device.
    container_ml: Mapped[Decimal | None] = mapped_column(QUANTITY)
    ndc: Mapped[str] = mapped_column(sa.String(20))
    lot_number: Mapped[str] = mapped_column(sa.String(60))
    expires_on: Mapped[date] = mapped_column(sa.Date)
    supplier: Mapped[str] = mapped_column(sa.String(120))
    invoice: Mapped[str] = mapped_column(sa.String(60))
    received_on: Mapped[date] = mapped_column(sa.Date, index=True)
    received_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    witness_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    quantity_received: Mapped[Decimal] = mapped_column(QUANTITY)
    unit: Mapped[str] = mapped_column(sa.String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    received_by: Mapped[User] = relationship(foreign_keys=[received_by_id], lazy="joined")
    witness: Mapped[User] = relationship(foreign_keys=[witness_id], lazy="joined")

    @property
    def description(self) -> str:
        size = f" {self.container_ml.normalize():f} mL" if self.container_ml else ""
        form = self.form.label.lower()
        return f"{self.drug} {self.strength}, {form}{size}, lot {self.lot_number}"


class LedgerEntry(db.Model):
    __tablename__ = "register_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(sa.ForeignKey("stock_lot.id"), index=True)
    kind: Mapped[EntryKind] = mapped_column(enum_column(EntryKind))
    # The change to the lot's balance, as entered (out of stock: negative). A count moves nothing.
    quantity: Mapped[Decimal] = mapped_column(QUANTITY)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    recorded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    # The second person: the witness of a waste, receipt or correction, the second counter.
    witness_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    # A draw or waste for an administration, and its patient (the dispensing log's).
    administration_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("administration.id"), index=True
    )
    patient_id: Mapped[int | None] = mapped_column(sa.ForeignKey("patient.id"))
    # A draw: the volume drawn as the nurse entered it (given and wasted are the draw's and the
    # waste's own quantities).
    drawn: Mapped[Decimal | None] = mapped_column(QUANTITY)
    # A count: what the ledger expected at that moment, and what the two people counted.
    expected: Mapped[Decimal | None] = mapped_column(QUANTITY)
    counted: Mapped[Decimal | None] = mapped_column(QUANTITY)
    # A correction that resolves a count's discrepancy; a void's reversed entry.
    resolves_id: Mapped[int | None] = mapped_column(sa.ForeignKey("register_entry.id"), unique=True)
    voids_id: Mapped[int | None] = mapped_column(sa.ForeignKey("register_entry.id"), unique=True)
    reason: Mapped[str] = mapped_column(sa.Text, default="")

    lot: Mapped[StockLot] = relationship(lazy="joined")
    recorded_by: Mapped[User] = relationship(foreign_keys=[recorded_by_id], lazy="joined")
    witness: Mapped[User | None] = relationship(foreign_keys=[witness_id], lazy="joined")

    @property
    def discrepancy(self) -> Decimal | None:
        """A count's difference, counted less expected, as both were recorded."""
        if self.kind != EntryKind.COUNT or self.counted is None or self.expected is None:
            return None
        return self.counted - self.expected
