"""The register's rules: receiving a lot, drawing, wasting, returning, correcting, counting and
voiding, each appended to the lot's ledger and audited in the caller's transaction.

Every movement locks the lot's row first (SELECT ... FOR UPDATE; SQLite's BEGIN IMMEDIATE already
serialises writers), then reads the balance: two nurses drawing the last millilitres at once are
served one after the other, and the second is refused with the balance she would have broken.
Quantities are stored as entered and compared as entered: drawn = given + wasted is checked,
never worked out. A witness is a different, active member of the clinical staff who proves it
with their own password on the same screen (DESIGN.md §3, invariant 9).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from flask import current_app

from clinic.audit.services import diff, record_audit_event
from clinic.auth.models import CLINICAL_ROLES, Role, User
from clinic.auth.passwords import verify_password
from clinic.clinic_time import local_now
from clinic.clinical_numbers import decimal_text
from clinic.database import utcnow
from clinic.extensions import db
from clinic.field_errors import FieldError
from clinic.register.models import EntryKind, LedgerEntry, LotForm, StockLot
from clinic.submissions import Saved, earlier_entry, remember_submission

ENTRY_RECORDED = "register_entry_recorded"


class RegisterError(FieldError):
    """A register entry refused for a reason the person can fix."""


class WrongWitnessPasswordError(RegisterError):
    """The witness's password did not match; the view records the failure against the witness."""

    def __init__(self, witness: User, field: str) -> None:
        super().__init__("The witness's password is not correct: nothing was saved.", field)
        self.witness = witness


@dataclass(frozen=True)
class Witness:
    """The second person, as chosen on the form, and the password they typed there."""

    user_id: int | None
    password: str
    field: str = "witness_id"
    password_field: str = "witness_password"  # noqa: S105 (a form field's name)


@dataclass(frozen=True)
class LotDetails:
    drug: str
    strength: str
    form: LotForm
    container_ml: Decimal | None
    ndc: str
    lot_number: str
    expires_on: date
    supplier: str
    invoice: str
    received_on: date
    quantity: Decimal

    def cleaned(self) -> LotDetails:
        return replace(
            self,
            drug=self.drug.strip(),
            strength=self.strength.strip(),
            ndc=self.ndc.strip(),
            lot_number=self.lot_number.strip(),
            supplier=self.supplier.strip(),
            invoice=self.invoice.strip(),
        )


@dataclass(frozen=True)
class DrawDetails:
    """What a nurse entered of a controlled drug given from a lot: drawn, given and wasted in the
    lot's unit, exactly as typed."""

    lot_id: int | None
    drawn: Decimal | None
    given: Decimal | None
    wasted: Decimal | None
    witness: Witness


# --- reading ----------------------------------------------------------------------------------

BALANCES = sa.select(LedgerEntry.lot_id, sa.func.coalesce(sa.func.sum(LedgerEntry.quantity), 0))


def balance(lot_id: int) -> Decimal:
    """The sum of the lot's ledger."""
    return Decimal(
        db.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.quantity), 0)).where(
                LedgerEntry.lot_id == lot_id
            )
        )
    )


def balances(before: datetime | None = None) -> dict[int, Decimal]:
    """Every lot's balance (as its ledger stood before `before`), in one statement."""
    query = BALANCES.group_by(LedgerEntry.lot_id)
    if before is not None:
        query = query.where(LedgerEntry.occurred_at < before)
    return {lot_id: Decimal(total) for lot_id, total in db.session.execute(query)}


def all_lots() -> list[StockLot]:
    return list(
        db.session.scalars(
            sa.select(StockLot).order_by(StockLot.received_on.desc(), StockLot.id.desc())
        )
    )


def open_lots() -> list[tuple[StockLot, Decimal]]:
    """Lots with something on the shelf, with their balance, soonest expiry first."""
    totals = balances()
    lots = db.session.scalars(sa.select(StockLot).order_by(StockLot.expires_on, StockLot.id)).all()
    return [(lot, totals.get(lot.id, Decimal(0))) for lot in lots if totals.get(lot.id, 0) > 0]


def ledger_of(lot_id: int) -> list[LedgerEntry]:
    return list(
        db.session.scalars(
            sa.select(LedgerEntry)
            .where(LedgerEntry.lot_id == lot_id)
            .order_by(LedgerEntry.occurred_at, LedgerEntry.id)
        )
    )


def voided_ids(lot_id: int) -> set[int]:
    return set(
        db.session.scalars(
            sa.select(LedgerEntry.voids_id).where(
                LedgerEntry.lot_id == lot_id, LedgerEntry.voids_id.is_not(None)
            )
        )
    )


def open_counts() -> list[LedgerEntry]:
    """Counts whose discrepancy no clinician has resolved yet, oldest first."""
    resolution = sa.orm.aliased(LedgerEntry)
    return [
        count
        for count in db.session.scalars(
            sa.select(LedgerEntry)
            .outerjoin(resolution, resolution.resolves_id == LedgerEntry.id)
            .where(
                LedgerEntry.kind == EntryKind.COUNT,
                LedgerEntry.counted != LedgerEntry.expected,
                resolution.id.is_(None),
            )
            .order_by(LedgerEntry.occurred_at, LedgerEntry.id)
        )
    ]


def resolution_of(count_id: int) -> LedgerEntry | None:
    return db.session.scalar(sa.select(LedgerEntry).where(LedgerEntry.resolves_id == count_id))


# --- the rules every entry shares ---------------------------------------------------------------


def quantity_rules(unit: str) -> dict[str, object]:
    return current_app.config["REGISTER_QUANTITY_RULES"][unit]


def check_quantity(value: Decimal | None, unit: str, field: str, *, zero: bool = False) -> Decimal:
    """A quantity as entered: a number, not negative (zero only where it means something), with
    no more decimals than the unit takes and no larger than plausible. Refused next to `field`."""
    rules = quantity_rules(unit)
    if value is None:
        raise RegisterError(f"Enter the quantity in {unit}.", field)
    if not value.is_finite() or value < 0 or (value == 0 and not zero):
        raise RegisterError(f"Enter a quantity in {unit} above zero.", field)
    decimals = int(rules["decimals"])  # type: ignore[call-overload]
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > decimals:
        raise RegisterError(
            "Whole units only: nothing is rounded."
            if decimals == 0
            else f"At most {decimals} decimal places in {unit}: nothing is rounded.",
            field,
        )
    if value > Decimal(str(rules["max"])):
        raise RegisterError(f"More than {rules['max']} {unit} is not plausible here.", field)
    return value


def verify_witness(actor: User, witness: Witness) -> User:
    """The second person: chosen, not the one recording, active clinical staff, and their own
    password typed now. Checked before any lock is taken (the password hash is slow)."""
    if witness.user_id is None:
        raise RegisterError("Choose the witness.", witness.field)
    person = db.session.get(User, witness.user_id)
    if person is None or not person.active or person.role not in CLINICAL_ROLES:
        raise RegisterError("Choose an active nurse or clinician as witness.", witness.field)
    if person.id == actor.id:
        raise RegisterError("The witness is someone other than you.", witness.field)
    if not witness.password:
        raise RegisterError("The witness enters their own password.", witness.password_field)
    if not verify_password(person.password_hash, witness.password):
        raise WrongWitnessPasswordError(person, witness.password_field)
    return person


def lock_lot(lot_id: int) -> StockLot:
    lot = db.session.scalar(
        sa.select(StockLot)
        .where(StockLot.id == lot_id)
        .with_for_update(of=StockLot)
        .execution_options(populate_existing=True)
    )
    if lot is None:
        raise RegisterError("Choose a lot of the register.", "lot_id")
    return lot


def _require_clinical(actor: User) -> None:
    if actor.role not in CLINICAL_ROLES:
        raise PermissionError("Only nurses and clinicians keep the register.")


def _entry_values(entry: LedgerEntry) -> dict[str, object]:
    """Every value an entry stores, as its audit event records it."""
    values: dict[str, object] = {
        "lot_id": entry.lot_id,
        "kind": entry.kind.value,
        "quantity": decimal_text(entry.quantity),
        "occurred_at": entry.occurred_at.isoformat(),
        "recorded_at": entry.recorded_at.isoformat(),
        "recorded_by_id": entry.recorded_by_id,
        "witness_id": entry.witness_id,
        "administration_id": entry.administration_id,
        "drawn": None if entry.drawn is None else decimal_text(entry.drawn),
        "expected": None if entry.expected is None else decimal_text(entry.expected),
        "counted": None if entry.counted is None else decimal_text(entry.counted),
        "resolves_id": entry.resolves_id,
        "voids_id": entry.voids_id,
        "reason": entry.reason,
    }
    return {name: value for name, value in values.items() if value not in (None, "")}


def _append(actor: User, entry: LedgerEntry, submission_key: str | None) -> None:
    """One action for every entry, its kind among the values: `flask audit verify` replays the
    ledger from it (clinic/review/record_trail.py)."""
    entry.recorded_at = utcnow()
    entry.recorded_by_id = actor.id
    db.session.add(entry)
    db.session.flush()
    remember_submission(submission_key, actor.id, LedgerEntry.__tablename__, entry.id)
    record_audit_event(
        actor_id=actor.id,
        action=ENTRY_RECORDED,
        entity=LedgerEntry.__tablename__,
        entity_id=entry.id,
        patient_id=entry.patient_id,
        changes=diff({}, _entry_values(entry)),
    )


def _require_balance(lot: StockLot, taking: Decimal, field: str) -> None:
    on_shelf = balance(lot.id)
    if on_shelf - taking < 0:
        raise RegisterError(
            f"Lot {lot.lot_number} holds {decimal_text(on_shelf)} {lot.unit} by its ledger: "
            f"{decimal_text(taking)} {lot.unit} would take it below zero. Nothing was saved.",
            field,
        )


def _require_unexpired(lot: StockLot, field: str) -> None:
    if lot.expires_on < local_now().date():
        raise RegisterError(
            f"Lot {lot.lot_number} expired on {lot.expires_on.isoformat()}: it is not given. "
            "Waste or return it.",
            field,
        )


# --- receiving ----------------------------------------------------------------------------------


def receive_lot(
    actor: User, details: LotDetails, witness: Witness, submission_key: str | None
) -> Saved[StockLot]:
    """A delivery of one lot, witnessed: the lot and its receipt entry."""
    _require_clinical(actor)
    details = details.cleaned()
    earlier = earlier_entry(StockLot, submission_key, actor=actor, belongs=lambda lot: True)
    if earlier is not None:
        return earlier
    _check_lot(details)
    witness_user = verify_witness(actor, witness)
    duplicate = db.session.scalar(
        sa.select(StockLot.id).where(
            sa.func.lower(StockLot.lot_number) == details.lot_number.lower(),
            sa.func.lower(StockLot.invoice) == details.invoice.lower(),
        )
    )
    if duplicate is not None:
        raise RegisterError(
            f"Lot {details.lot_number} on invoice {details.invoice} is already received "
            f"(register lot {duplicate}): nothing was saved.",
            "invoice",
        )
    lot = StockLot(
        drug=details.drug,
        strength=details.strength,
        form=details.form,
        container_ml=details.container_ml,
        ndc=details.ndc,
        lot_number=details.lot_number,
        expires_on=details.expires_on,
        supplier=details.supplier,
        invoice=details.invoice,
        received_on=details.received_on,
        received_by_id=actor.id,
        witness_id=witness_user.id,
        quantity_received=details.quantity,
        unit=details.form.unit,
        created_at=utcnow(),
    )
    db.session.add(lot)
    db.session.flush()
    remember_submission(submission_key, actor.id, StockLot.__tablename__, lot.id)
    record_audit_event(
        actor_id=actor.id,
        action="register_lot_received",
        entity=StockLot.__tablename__,
        entity_id=lot.id,
        changes=diff({}, _lot_values(lot)),
    )
    _append(
        actor,
        LedgerEntry(
            lot_id=lot.id,
            kind=EntryKind.RECEIPT,
            quantity=details.quantity,
            occurred_at=utcnow(),
            witness_id=witness_user.id,
        ),
        None,
    )
    return Saved(lot)


def _lot_values(lot: StockLot) -> dict[str, object]:
    return {
        "drug": lot.drug,
        "strength": lot.strength,
        "form": lot.form.value,
        "container_ml": None if lot.container_ml is None else decimal_text(lot.container_ml),
        "ndc": lot.ndc,
        "lot_number": lot.lot_number,
        "expires_on": lot.expires_on.isoformat(),
        "supplier": lot.supplier,
        "invoice": lot.invoice,
        "received_on": lot.received_on.isoformat(),
        "received_by_id": lot.received_by_id,
        "witness_id": lot.witness_id,
        "quantity_received": decimal_text(lot.quantity_received),
        "unit": lot.unit,
        "created_at": lot.created_at.isoformat(),
    }


NDC = re.compile(r"^\d{4,5}-\d{3,4}-\d{1,2}$")


def _check_lot(details: LotDetails) -> None:
    drugs = current_app.config["REGISTER_DRUGS"]
    if details.drug not in drugs:
        raise RegisterError(f"The register holds {', '.join(drugs)}.", "drug")
    for name, what in (
        ("strength", "the strength or concentration"),
        ("lot_number", "the lot number"),
        ("supplier", "the supplier"),
        ("invoice", "the invoice number"),
    ):
        if not getattr(details, name):
            raise RegisterError(f"Enter {what}.", name)
    if not NDC.fullmatch(details.ndc):
        raise RegisterError("Enter the NDC as on the package, e.g. 0409-2053-10.", "ndc")
    if details.form is LotForm.VIAL:
        check_quantity(details.container_ml, "mL", "container_ml")
    elif details.container_ml is not None:
        raise RegisterError("A nasal device has no vial size: leave it empty.", "container_ml")
    check_quantity(details.quantity, details.form.unit, "quantity")
    today = local_now().date()
    if details.received_on > today:
        raise RegisterError("The receipt date is in the future.", "received_on")
    if details.expires_on < details.received_on:
        raise RegisterError("This lot had expired when it was received.", "expires_on")


# --- the chart's draws --------------------------------------------------------------------------


def controlled_drug(drug: str) -> str | None:
    """The register drug an administration's drug names as a word (case aside), if any: the
    longest, so "Esketamine" is esketamine, not ketamine."""
    found = [
        name
        for name in current_app.config["REGISTER_DRUGS"]
        if re.search(rf"\b{re.escape(name)}\b", drug, re.IGNORECASE)
    ]
    return max(found, key=len) if found else None


def register_holds(drug: str) -> bool:
    return (
        db.session.scalar(sa.select(StockLot.id).where(StockLot.drug == drug).limit(1)) is not None
    )


def check_draw_entry(drug: str, draw: DrawDetails) -> str | None:
    """The rules a draw's entered values obey before anything is locked: a lot named when the
    register holds the drug, and drawn = given + wasted on the values as typed. Returns the
    register drug, or None when the administration draws from no lot."""
    register_drug = controlled_drug(drug)
    entered = (draw.drawn, draw.given, draw.wasted)
    if draw.lot_id is None:
        if register_drug is not None and register_holds(register_drug):
            raise RegisterError(
                f"{register_drug} is a controlled drug: choose the register lot it came from.",
                "lot_id",
            )
        if any(value is not None for value in entered):
            raise RegisterError("Choose the lot these quantities came from.", "lot_id")
        return None
    if register_drug is None:
        raise RegisterError(
            "The register holds only controlled drugs: leave the lot empty for this one.",
            "lot_id",
        )
    for value, field, what in (
        (draw.drawn, "drawn", "drawn"),
        (draw.given, "given", "given"),
    ):
        if value is None:
            raise RegisterError(f"Enter the quantity {what}, in the lot's unit.", field)
    return register_drug


def draw_for_administration(
    actor: User,
    *,
    drug: str,
    draw: DrawDetails,
    administration_id: int,
    patient_id: int,
    occurred_at: datetime,
) -> None:
    """The draw (what was given) and any waste of an administration, in its transaction."""
    register_drug = check_draw_entry(drug, draw)
    if register_drug is None or draw.lot_id is None:
        return
    lot = lock_lot(draw.lot_id)
    if lot.drug != register_drug:
        raise RegisterError(
            f"Lot {lot.lot_number} is {lot.drug}; the administration is of {drug}.", "lot_id"
        )
    drawn = check_quantity(draw.drawn, lot.unit, "drawn")
    given = check_quantity(draw.given, lot.unit, "given", zero=True)
    wasted = (
        Decimal(0)
        if draw.wasted is None
        else check_quantity(draw.wasted, lot.unit, "wasted", zero=True)
    )
    if given + wasted != drawn:
        raise RegisterError(
            f"Drawn ({decimal_text(drawn)} {lot.unit}) is not given "
            f"({decimal_text(given)}) plus wasted ({decimal_text(wasted)}) as entered: "
            "check the three quantities.",
            "drawn",
        )
    _require_unexpired(lot, "lot_id")
    witness_user = verify_witness(actor, draw.witness) if wasted else None
    _require_balance(lot, drawn, "drawn")
    common = {
        "lot_id": lot.id,
        "occurred_at": occurred_at,
        "administration_id": administration_id,
        "patient_id": patient_id,
    }
    _append(
        actor,
        LedgerEntry(kind=EntryKind.DRAW, quantity=-given, drawn=drawn, **common),
        None,
    )
    if wasted:
        _append(
            actor,
            LedgerEntry(
                kind=EntryKind.WASTE,
                quantity=-wasted,
                witness_id=witness_user.id if witness_user else None,
                **common,
            ),
            None,
        )


# --- waste, returns and corrections from the register's own pages -------------------------------


def record_movement(
    actor: User,
    lot_id: int,
    kind: EntryKind,
    quantity: Decimal | None,
    reason: str,
    witness: Witness | None,
    submission_key: str | None,
    *,
    adds: bool = False,
) -> Saved[LedgerEntry]:
    """Waste (witnessed), a return to the supplier, or a count correction (witnessed, with a
    reason; `adds` when stock was found rather than missing)."""
    _require_clinical(actor)
    if kind not in (EntryKind.WASTE, EntryKind.RETURN, EntryKind.CORRECTION):
        raise ValueError(kind)
    reason = reason.strip()
    if kind is not EntryKind.RETURN and not reason:
        raise RegisterError("Give the reason.", "reason")
    witness_user = None
    if kind is not EntryKind.RETURN:
        if witness is None:
            raise RegisterError("A witness is needed.", "witness_id")
        witness_user = verify_witness(actor, witness)
    lot = lock_lot(lot_id)
    earlier = earlier_entry(
        LedgerEntry, submission_key, actor=actor, belongs=lambda e: e.lot_id == lot.id
    )
    if earlier is not None:
        return earlier
    amount = check_quantity(quantity, lot.unit, "quantity")
    signed = amount if (kind is EntryKind.CORRECTION and adds) else -amount
    if signed < 0:
        _require_balance(lot, amount, "quantity")
    entry = LedgerEntry(
        lot_id=lot.id,
        kind=kind,
        quantity=signed,
        occurred_at=utcnow(),
        witness_id=witness_user.id if witness_user else None,
        reason=reason,
    )
    _append(actor, entry, submission_key)
    return Saved(entry)


# --- counts -------------------------------------------------------------------------------------


def record_count(
    actor: User,
    lot_id: int,
    counted: Decimal | None,
    second_counter: Witness,
    submission_key: str | None,
) -> Saved[LedgerEntry]:
    """Two people count what is on the shelf; the ledger's balance at that moment is kept beside
    it. A difference stays open until a clinician resolves it."""
    _require_clinical(actor)
    counter = verify_witness(actor, second_counter)
    lot = lock_lot(lot_id)
    earlier = earlier_entry(
        LedgerEntry, submission_key, actor=actor, belongs=lambda e: e.lot_id == lot.id
    )
    if earlier is not None:
        return earlier
    shelf = check_quantity(counted, lot.unit, "counted", zero=True)
    entry = LedgerEntry(
        lot_id=lot.id,
        kind=EntryKind.COUNT,
        quantity=Decimal(0),
        occurred_at=utcnow(),
        witness_id=counter.id,
        expected=balance(lot.id),
        counted=shelf,
    )
    _append(actor, entry, submission_key)
    return Saved(entry)


def resolve_count(
    actor: User, count_id: int, reason: str, correct_to_count: bool, witness: Witness | None
) -> LedgerEntry:
    """A clinician closes a count's discrepancy with a reason: either the count was wrong (the
    ledger stands), or the shelf is right and a witnessed correction brings the ledger to it."""
    if actor.role != Role.CLINICIAN:
        raise PermissionError("A clinician resolves a count's discrepancy.")
    reason = reason.strip()
    if not reason:
        raise RegisterError("Give the reason.", "reason")
    witness_user = verify_witness(actor, witness) if correct_to_count and witness else None
    if correct_to_count and witness_user is None:
        raise RegisterError("A correction of the register needs a witness.", "witness_id")
    count = db.session.get(LedgerEntry, count_id)
    if count is None or count.kind != EntryKind.COUNT:
        raise LookupError(count_id)
    lot = lock_lot(count.lot_id)
    if not count.discrepancy or resolution_of(count.id) is not None:
        raise RegisterError("This count has no open discrepancy: nothing was saved.")
    change = count.discrepancy if correct_to_count else Decimal(0)
    if change < 0:
        _require_balance(lot, -change, "reason")
    entry = LedgerEntry(
        lot_id=lot.id,
        kind=EntryKind.CORRECTION,
        quantity=change,
        occurred_at=utcnow(),
        witness_id=witness_user.id if witness_user else None,
        resolves_id=count.id,
        reason=reason,
    )
    _append(actor, entry, None)
    return entry


# --- voids --------------------------------------------------------------------------------------


def void_entry(actor: User, entry_id: int, reason: str) -> LedgerEntry:
    """A reversing entry with the reason: the original stays on the ledger as it was."""
    _require_clinical(actor)
    reason = reason.strip()
    if not reason:
        raise RegisterError("Give the reason for the void.", "reason")
    original = db.session.get(LedgerEntry, entry_id)
    if original is None:
        raise LookupError(entry_id)
    lot = lock_lot(original.lot_id)
    if original.kind in (EntryKind.VOID, EntryKind.COUNT) or original.resolves_id is not None:
        raise RegisterError("Only a movement of stock is voided.")
    if db.session.scalar(sa.select(LedgerEntry.id).where(LedgerEntry.voids_id == original.id)):
        raise RegisterError("This entry is already voided.")
    if original.quantity > 0:
        _require_balance(lot, original.quantity, "reason")
    entry = LedgerEntry(
        lot_id=lot.id,
        kind=EntryKind.VOID,
        quantity=-original.quantity,
        occurred_at=utcnow(),
        voids_id=original.id,
        administration_id=original.administration_id,
        patient_id=original.patient_id,
        reason=reason,
    )
    _append(actor, entry, None)
    return entry


def record_register_viewed(actor: User, page: str, entity_id: int | None = None) -> None:
    """A register page read, audited as a record's view is."""
    record_audit_event(
        actor_id=actor.id,
        action="register_viewed",
        entity="register" if entity_id is None else StockLot.__tablename__,
        entity_id=entity_id,
        changes={"page": page},
    )
