"""Writing, superseding and discontinuing orders, and which orders are in force for a session.

An order is written and signed in one step by a clinician who re-enters her password, and is
never edited afterwards: a change is a new order that supersedes it (the old one leaves force in
the same transaction), and an order no longer wanted is discontinued with a reason. Every write is
audited in the caller's transaction with every value it stores (clinic/review/record_trail.py
replays them); callers commit.

Nothing here computes a dose: the amount is the clinician's, stored as written.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

import sqlalchemy as sa

from clinic.administration_terms import Method, Route
from clinic.audit.services import diff, record_audit_event
from clinic.auth.models import Role, User
from clinic.auth.passwords import verify_password
from clinic.clinical_numbers import decimal_text
from clinic.database import utcnow
from clinic.extensions import db
from clinic.field_errors import FieldError
from clinic.orders.models import MedicationOrder, OrderKind, OrderStatus
from clinic.patients.courses.models import TreatmentCourse
from clinic.patients.models import Patient
from clinic.submissions import Saved, earlier_entry, remember_submission

MAX_PRN_DOSES = 20
MAX_PRN_INTERVAL_MINUTES = 24 * 60


class OrderError(FieldError):
    """An order refused for a reason the clinician can fix."""


class WrongOrderPasswordError(OrderError):
    def __init__(self) -> None:
        super().__init__("The password is not correct; the order was not signed.", "password")


class OrderNotInForceError(OrderError):
    """The order was superseded or discontinued after the page was loaded."""

    def __init__(self, order: MedicationOrder, field: str | None = None) -> None:
        super().__init__(
            f"Order {order.id} is no longer in force ({order.status.label.lower()}): "
            "nothing was saved. Check the orders in force below.",
            field,
        )
        self.order = order


@dataclass(frozen=True)
class OrderDetails:
    kind: OrderKind
    drug: str
    dose_amount: Decimal
    dose_unit: str
    route: Route
    method: Method
    concentration: str = ""
    rate_or_duration: str = ""
    indication: str = ""
    min_interval_minutes: int | None = None
    max_doses_per_session: int | None = None
    note: str = ""

    def cleaned(self) -> OrderDetails:
        return replace(
            self,
            drug=self.drug.strip(),
            dose_unit=self.dose_unit.strip(),
            concentration=self.concentration.strip(),
            rate_or_duration=self.rate_or_duration.strip(),
            indication=self.indication.strip(),
            note=self.note.strip(),
        )


def _require_clinician(actor: User) -> None:
    if actor.role != Role.CLINICIAN:
        raise PermissionError("Only clinicians write and sign orders.")


def orders_of_course(course_id: int) -> list[MedicationOrder]:
    """Every order of the course, in force or not, newest first."""
    return list(
        db.session.scalars(
            sa.select(MedicationOrder)
            .where(MedicationOrder.course_id == course_id)
            .order_by(MedicationOrder.signed_at.desc(), MedicationOrder.id.desc())
        ).unique()
    )


def orders_in_force(course_id: int | None, session_id: int | None) -> list[MedicationOrder]:
    """The orders a session may carry out: those in force for its course's sessions and those
    written for it alone; treatment orders first."""
    scopes = []
    if course_id is not None:
        scopes.append(
            sa.and_(MedicationOrder.course_id == course_id, MedicationOrder.session_id.is_(None))
        )
    if session_id is not None:
        scopes.append(MedicationOrder.session_id == session_id)
    if not scopes:
        return []
    return list(
        db.session.scalars(
            sa.select(MedicationOrder)
            .where(MedicationOrder.status == OrderStatus.ACTIVE, sa.or_(*scopes))
            .order_by(MedicationOrder.kind.desc(), MedicationOrder.signed_at, MedicationOrder.id)
        ).unique()
    )


def applies_to(order: MedicationOrder, course_id: int | None, session_id: int | None) -> bool:
    """The order is one of a session's: its course's series order, or written for it."""
    if order.session_id is not None:
        return order.session_id == session_id
    return order.course_id is not None and order.course_id == course_id


def _check(details: OrderDetails) -> OrderDetails:
    details = details.cleaned()
    if not details.drug:
        raise OrderError("Enter the drug.", "drug")
    if not details.dose_unit:
        raise OrderError("Choose the unit.", "dose_unit")
    if not details.dose_amount.is_finite() or details.dose_amount <= 0:
        raise OrderError("The amount is more than zero.", "dose_amount")
    if details.kind == OrderKind.PRN:
        if not details.indication:
            raise OrderError("Say what the PRN order is for (e.g. nausea).", "indication")
        interval = details.min_interval_minutes
        if interval is not None and not 1 <= interval <= MAX_PRN_INTERVAL_MINUTES:
            raise OrderError("Give the interval in minutes, at most a day.", "min_interval_minutes")
        doses = details.max_doses_per_session
        if doses is not None and not 1 <= doses <= MAX_PRN_DOSES:
            raise OrderError(
                f"Allow between 1 and {MAX_PRN_DOSES} doses a session.", "max_doses_per_session"
            )
    elif details.indication or details.min_interval_minutes or details.max_doses_per_session:
        raise OrderError(
            "An indication, an interval and a number of doses belong to a PRN order.", "kind"
        )
    return details


def _values(order: MedicationOrder) -> dict[str, object]:
    """Every value an order stores, as its audit event records it."""
    return {
        "course_id": order.course_id,
        "session_id": order.session_id,
        "kind": order.kind.value,
        "drug": order.drug,
        "concentration": order.concentration,
        "dose_amount": decimal_text(order.dose_amount),
        "dose_unit": order.dose_unit,
        "route": order.route.value,
        "method": order.method.value,
        "rate_or_duration": order.rate_or_duration,
        "indication": order.indication,
        "min_interval_minutes": order.min_interval_minutes,
        "max_doses_per_session": order.max_doses_per_session,
        "note": order.note,
        "supersedes_id": order.supersedes_id,
        "status": order.status.value,
        "signer_name": order.signer_name,
        "signer_credentials": order.signer_credentials,
        "signed_at": order.signed_at.isoformat(),
    }


def check_password(actor: User, password: str) -> None:
    """The clinician's password, re-entered to sign: checked before any lock is taken (scrypt is
    slow). The caller records a wrong one after rolling back."""
    _require_clinician(actor)
    if not verify_password(actor.password_hash, password):
        raise WrongOrderPasswordError


def write_order(
    actor: User,
    patient_id: int,
    details: OrderDetails,
    password: str,
    submission_key: str | None,
    *,
    course_id: int | None = None,
    session_id: int | None = None,
    supersedes_id: int | None = None,
) -> Saved[MedicationOrder]:
    """Write and sign an order for a course's sessions; with `supersedes_id`, a new order that
    takes the place of one in force, for the same course or session."""
    check_password(actor, password)
    return record_signed_order(
        actor,
        patient_id,
        details,
        submission_key,
        course_id=course_id,
        session_id=session_id,
        supersedes_id=supersedes_id,
    )


def record_signed_order(
    actor: User,
    patient_id: int,
    details: OrderDetails,
    submission_key: str | None,
    *,
    course_id: int | None = None,
    session_id: int | None = None,
    supersedes_id: int | None = None,
) -> Saved[MedicationOrder]:
    """The order, once its clinician's password has been checked (check_password). An order for
    one session is recorded here after the chart's service has checked the session
    (clinic/sessions/services/session_orders.py): this layer does not know sessions."""
    _require_clinician(actor)
    patient = db.session.scalar(
        sa.select(Patient).where(Patient.id == patient_id).with_for_update()
    )
    if patient is None:
        raise OrderError("This patient does not exist.")
    earlier = earlier_entry(
        MedicationOrder, submission_key, actor=actor, belongs=lambda o: o.patient_id == patient_id
    )
    if earlier is not None:
        return earlier
    details = _check(details)
    old = None
    if supersedes_id is not None:
        old = _lock(patient_id, supersedes_id)
        if not old.in_force:
            raise OrderNotInForceError(old)
        course_id, session_id = old.course_id, old.session_id
    elif session_id is None:
        course = db.session.get(TreatmentCourse, course_id) if course_id else None
        if course is None or course.patient_id != patient_id:
            raise OrderError("An order is written for one of the patient's courses.")
        if not course.is_active:
            raise OrderError("This course has ended: orders are written for an active course.")
    order = MedicationOrder(
        patient_id=patient_id,
        course_id=course_id,
        session_id=session_id,
        kind=details.kind,
        drug=details.drug,
        concentration=details.concentration,
        dose_amount=details.dose_amount,
        dose_unit=details.dose_unit,
        route=details.route,
        method=details.method,
        rate_or_duration=details.rate_or_duration,
        indication=details.indication,
        min_interval_minutes=details.min_interval_minutes,
        max_doses_per_session=details.max_doses_per_session,
        note=details.note,
        supersedes_id=old.id if old else None,
        status=OrderStatus.ACTIVE,
        signed_by_id=actor.id,
        signer_name=actor.full_name,
        signer_credentials=actor.credentials or "",
        signed_at=utcnow(),
    )
    db.session.add(order)
    db.session.flush()
    remember_submission(submission_key, actor.id, MedicationOrder.__tablename__, order.id)
    if old is not None:
        _end(actor, old, OrderStatus.SUPERSEDED, None, "order_superseded", order.id)
    record_audit_event(
        actor_id=actor.id,
        action="order_written",
        entity=MedicationOrder.__tablename__,
        entity_id=order.id,
        patient_id=patient_id,
        changes=diff({}, _values(order)),
    )
    return Saved(order)


def discontinue_order(actor: User, patient_id: int, order_id: int, reason: str) -> MedicationOrder:
    """Take an order out of force, with the reason. It stays on the record as it was written."""
    _require_clinician(actor)
    order = _lock(patient_id, order_id)
    reason = reason.strip()
    if not reason:
        raise OrderError("Say why the order is discontinued.", "reason")
    if not order.in_force:
        raise OrderNotInForceError(order)
    _end(actor, order, OrderStatus.DISCONTINUED, reason, "order_discontinued")
    return order


def _end(
    actor: User,
    order: MedicationOrder,
    status: OrderStatus,
    reason: str | None,
    action: str,
    superseded_by: int | None = None,
) -> None:
    previous = order.status
    order.status = status
    order.ended_at = utcnow()
    order.ended_by_id = actor.id
    order.discontinue_reason = reason
    db.session.flush()
    changes: dict[str, object] = {
        "status": [previous.value, status.value],
        "ended_at": [None, order.ended_at.isoformat()],
        "ended_by_id": [None, actor.id],
        "discontinue_reason": [None, reason],
    }
    if superseded_by is not None:
        changes["superseded_by"] = superseded_by
    record_audit_event(
        actor_id=actor.id,
        action=action,
        entity=MedicationOrder.__tablename__,
        entity_id=order.id,
        patient_id=order.patient_id,
        changes=changes,
    )


def _lock(patient_id: int, order_id: int) -> MedicationOrder:
    order = db.session.scalar(
        sa.select(MedicationOrder)
        .where(MedicationOrder.id == order_id, MedicationOrder.patient_id == patient_id)
        .with_for_update(of=MedicationOrder)
        .execution_options(populate_existing=True)
    )
    if order is None:
        raise LookupError(order_id)
    return order


def lock_order(order_id: int) -> MedicationOrder | None:
    """The order, its row locked until the caller's commit: an administration carrying it out
    waits for a supersession or discontinuation in flight, then sees it."""
    return db.session.scalar(
        sa.select(MedicationOrder)
        .where(MedicationOrder.id == order_id)
        .with_for_update(of=MedicationOrder)
        .execution_options(populate_existing=True)
    )
