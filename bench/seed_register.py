"""The register of the benchmark's clinic: a lot of each drug received every week for two years,
and a draw (with its waste) in the week's lot for every administration of those two years, by
Core bulk inserts as bench/seed.py writes the record.

Quantities are fixed figures as a nurse might enter them (a vial drawn 1 mL, 0.8 given, 0.2
wasted; two nasal devices), never worked out from the dose.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from clinic.register.models import LedgerEntry, StockLot
from clinic.sessions.models import Administration, InfusionSession

WEEKS = 104
# drug -> (strength, form, vial size, received each week, drawn, given, wasted, unit)
LOT_PLAN = {
    "Ketamine": ("50 mg/mL", "vial", Decimal("10"), Decimal("1000"), "1", "0.8", "0.2", "mL"),
    "Esketamine": (
        "28 mg per device", "nasal_device", None, Decimal("200"), "2", "2", "0", "device"
    ),
}  # fmt: skip


def seed_register(connection: sa.Connection, nurse_ids: list[int], now: datetime) -> int:
    """Lots and ledger for the two years before `now`; returns the number of ledger rows."""
    first_week = now - timedelta(weeks=WEEKS)
    lots: list[dict[str, Any]] = []
    ledger: list[dict[str, Any]] = []
    lot_of: dict[tuple[str, int], int] = {}
    lot_id = 0
    for week in range(WEEKS + 1):
        received = first_week + timedelta(weeks=week)
        for drug, (strength, form, size, quantity, *_rest, unit) in LOT_PLAN.items():
            lot_id += 1
            lot_of[(drug, week)] = lot_id
            lots.append(
                {
                    "id": lot_id,
                    "drug": drug,
                    "strength": strength,
                    "form": form,
                    "container_ml": size,
                    "ndc": "0409-2053-10" if form == "vial" else "50458-028-02",
                    "lot_number": f"{drug[:2].upper()}{received:%y%W}",
                    "expires_on": (received + timedelta(days=540)).date(),
                    "supplier": "Bench Wholesale",
                    "invoice": f"INV-{received:%Y%m%d}-{drug[:2].upper()}",
                    "received_on": received.date(),
                    "received_by_id": nurse_ids[0],
                    "witness_id": nurse_ids[1],
                    "quantity_received": quantity,
                    "unit": unit,
                    "created_at": received,
                }
            )
            ledger.append(_entry(lot_id, "receipt", quantity, received, nurse_ids[0], nurse_ids[1]))
    administrations = connection.execute(
        sa.select(
            Administration.id,
            Administration.drug,
            Administration.started_at,
            Administration.recorded_by_id,
            InfusionSession.patient_id,
        )
        .join(InfusionSession, InfusionSession.id == Administration.session_id)
        .where(Administration.started_at >= first_week)
    ).all()
    for admin_id, drug, started_at, nurse, patient_id in administrations:
        name = "Esketamine" if drug.startswith("Esketamine") else "Ketamine"
        week = min((started_at - first_week).days // 7, WEEKS)
        _strength, _form, _size, _quantity, drawn, given, wasted, _unit = LOT_PLAN[name]
        lot = lot_of[(name, week)]
        draw = _entry(lot, "draw", -Decimal(given), started_at, nurse, None)
        ledger.append(
            {
                **draw,
                "administration_id": admin_id,
                "patient_id": patient_id,
                "drawn": Decimal(drawn),
            }
        )
        if Decimal(wasted):
            waste = _entry(lot, "waste", -Decimal(wasted), started_at, nurse, nurse_ids[1])
            ledger.append({**waste, "administration_id": admin_id, "patient_id": patient_id})
    _insert(connection, StockLot.__table__, lots)
    _insert(connection, LedgerEntry.__table__, ledger)
    return len(ledger)


def _entry(
    lot_id: int, kind: str, quantity: Decimal, at: datetime, by: int, witness: int | None
) -> dict[str, Any]:
    return {
        "lot_id": lot_id,
        "kind": kind,
        "quantity": quantity,
        "occurred_at": at,
        "recorded_at": at,
        "recorded_by_id": by,
        "witness_id": witness,
        "administration_id": None,
        "patient_id": None,
        "drawn": None,
        "expected": None,
        "counted": None,
        "resolves_id": None,
        "voids_id": None,
        "reason": "",
    }


def _insert(connection: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), 5_000):
        connection.execute(table.insert(), rows[start : start + 5_000])
