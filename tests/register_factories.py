"""Register records for tests that need stock on the shelf before the behaviour under test."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from clinic.auth.models import User
from clinic.clinic_time import local_now
from clinic.extensions import db
from clinic.register import services as register
from clinic.register.models import LotForm, StockLot
from tests.conftest import PASSWORD


def receive_lot(
    nurse: User,
    witness: User,
    quantity: str = "100",
    *,
    lot_number: str = "KT-1",
    invoice: str = "INV-1",
    received_on=None,
    expires_on=None,
) -> StockLot:
    """A lot of ketamine 50 mg/mL in 10 mL vials received through the service, witnessed."""
    today = local_now().date()
    details = register.LotDetails(
        drug="Ketamine",
        strength="50 mg/mL",
        form=LotForm.VIAL,
        container_ml=Decimal("10"),
        ndc="0409-2053-10",
        lot_number=lot_number,
        expires_on=expires_on or today + timedelta(days=300),
        supplier="Wholesale Pharma",
        invoice=invoice,
        received_on=received_on or today,
        quantity=Decimal(quantity),
    )
    saved = register.receive_lot(nurse, details, register.Witness(witness.id, PASSWORD), None)
    db.session.commit()
    return saved.entry


def seed_register(nurse: User, witness: User) -> dict[str, int]:
    """A lot, and a count of it with an open discrepancy."""
    lot = receive_lot(nurse, witness, "20", lot_number="KT-MATRIX", invoice="INV-MATRIX")
    count = register.record_count(
        nurse, lot.id, Decimal("19"), register.Witness(witness.id, PASSWORD), None
    ).entry
    db.session.commit()
    return {"register_lot": lot.id, "register_count": count.id}
