"""The esketamine REMS Patient Monitoring Form (REFERENCE.md): the session's own record laid out
as the programme's form, never a second copy. Correcting the chart corrects the form. The form
holds only what the chart does not (when the patient would have been ready to leave, as the
nurse judged it) and its submission (date, who), each audited.

Nothing here reads a dose to compute one: devices and doses are listed as entered, and the only
arithmetic is on clock times (minutes from the first device)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from clinic.audit.services import diff, record_audit_event
from clinic.auth.models import User
from clinic.clinic_time import local_now, to_local
from clinic.database import utcnow
from clinic.extensions import db
from clinic.sessions.entries import ChartError
from clinic.sessions.guards import lock_session
from clinic.sessions.models import (
    Administration,
    ConcomitantMedicine,
    Dissociation,
    InfusionSession,
    MonitoringEntry,
    RemsForm,
    Route,
    SessionStatus,
)
from clinic.sessions.services.screening import screening_of
from clinic.sessions.vitals import abnormal_flags

READY_MINUTES_MAX = 24 * 60


def is_rems_drug(drug: str) -> bool:
    text = drug.lower()
    return any(word in text for word in current_app.config["REMS_DRUG_WORDS"])


def rems_administrations(session_id: int) -> list[Administration]:
    """The session's esketamine devices still on the record, in the order given."""
    rows = db.session.scalars(
        sa.select(Administration)
        .where(
            Administration.session_id == session_id,
            Administration.voided_at.is_(None),
            Administration.route == Route.INTRANASAL,
        )
        .order_by(Administration.started_at, Administration.id)
    ).unique()
    return [a for a in rows if is_rems_drug(a.drug) or (a.order and is_rems_drug(a.order.drug))]


@dataclass(frozen=True)
class BloodPressure:
    entry: MonitoringEntry | None
    minutes: int | None  # from the first device
    flagged: bool

    @property
    def text(self) -> str:
        if self.entry is None:
            return "not recorded"
        return f"{self.entry.systolic_bp}/{self.entry.diastolic_bp} mmHg"


@dataclass(frozen=True)
class Finding:
    present: bool
    details: str


@dataclass
class RemsView:
    infusion_session: InfusionSession
    form: RemsForm | None
    devices: list[Administration]
    first_device_at: datetime | None
    first_treatment: bool
    monitoring_minutes: int | None
    bp_before: BloodPressure
    bp_t40: BloodPressure
    bp_before_completion: BloodPressure
    sedation: Finding
    dissociation: Finding
    respiratory_depression: Finding
    due_on: date
    lots: list[str] = field(default_factory=list)
    # The day's screening, read as recorded: None when no screening was recorded.
    concomitant_medicines: list[str] | None = None

    @property
    def is_rems(self) -> bool:
        return bool(self.devices)

    @property
    def submitted(self) -> bool:
        return self.form is not None and self.form.submitted_on is not None

    @property
    def ready_to_leave_minutes(self) -> int | None:
        return None if self.form is None else self.form.ready_to_leave_minutes

    @property
    def days_left(self) -> int:
        return (self.due_on - local_now().date()).days


def rems_form_of(session_id: int) -> RemsForm | None:
    return db.session.scalar(sa.select(RemsForm).where(RemsForm.session_id == session_id))


def _bp_entries(session_id: int) -> list[MonitoringEntry]:
    return list(
        db.session.scalars(
            sa.select(MonitoringEntry)
            .where(MonitoringEntry.session_id == session_id, MonitoringEntry.voided_at.is_(None))
            .order_by(MonitoringEntry.occurred_at, MonitoringEntry.id)
        ).unique()
    )


def _minutes(start: datetime | None, moment: datetime) -> int | None:
    return None if start is None else int((moment - start).total_seconds() // 60)


def _bp(entry: MonitoringEntry | None, start: datetime | None) -> BloodPressure:
    if entry is None:
        return BloodPressure(None, None, False)
    flags = abnormal_flags(entry, current_app.config["VITALS_FLAGS"])
    return BloodPressure(
        entry,
        _minutes(start, entry.occurred_at),
        "systolic_bp" in flags or "diastolic_bp" in flags,
    )


def build_rems_view(infusion_session: InfusionSession) -> RemsView:
    devices = rems_administrations(infusion_session.id)
    start = devices[0].started_at if devices else None
    entries = _bp_entries(infusion_session.id)
    with_bp = [e for e in entries if e.systolic_bp is not None and e.diastolic_bp is not None]
    before = [e for e in with_bp if start is None or e.occurred_at <= start]
    after = [e for e in with_bp if start is not None and e.occurred_at > start]
    low, high = current_app.config["REMS_T40_WINDOW_MINUTES"]
    near_40 = [e for e in after if low <= (_minutes(start, e.occurred_at) or 0) <= high]
    t40 = min(near_40, key=lambda e: abs((_minutes(start, e.occurred_at) or 0) - 40), default=None)
    ended = infusion_session.discharged_at
    completion = [e for e in after if ended is None or e.occurred_at <= ended]
    dosed = [e for e in entries if start is not None and e.occurred_at >= start]
    sedated = [e for e in dosed if e.sedation_moaas is not None and e.sedation_moaas < 5]
    dissociated = [
        e for e in dosed if e.dissociation is not None and e.dissociation != Dissociation.NONE
    ]
    thresholds = current_app.config["VITALS_FLAGS"]
    # Respiratory depression: SpO2 or respiratory rate below the clinic's flag threshold.
    breathing = [
        e
        for e in dosed
        if "low" in {abnormal_flags(e, thresholds).get(k) for k in ("spo2", "respiratory_rate")}
    ]
    lots = sorted({d.lot_number for d in devices if d.lot_number})
    screening = screening_of(infusion_session.id)
    return RemsView(
        infusion_session=infusion_session,
        form=rems_form_of(infusion_session.id),
        devices=devices,
        concomitant_medicines=(
            None
            if screening is None
            else [ConcomitantMedicine(m).label for m in screening.concomitant_medicines]
        ),
        first_device_at=start,
        first_treatment=start is not None and not _earlier_rems_session(infusion_session),
        monitoring_minutes=_minutes(start, ended) if ended else None,
        bp_before=_bp(before[-1] if before else None, start),
        bp_t40=_bp(t40, start),
        bp_before_completion=_bp(completion[-1] if completion else None, start),
        sedation=_finding(
            sedated,
            lambda e: f"MOAA/S {e.sedation_moaas} at {_clock(e.occurred_at)}",
        ),
        dissociation=_finding(
            dissociated,
            lambda e: (
                f"{e.dissociation.value if e.dissociation else ''} at {_clock(e.occurred_at)}"
            ),
        ),
        respiratory_depression=_finding(
            breathing,
            lambda e: (
                ", ".join(
                    part
                    for part in (
                        f"SpO2 {e.spo2}%" if e.spo2 is not None else "",
                        f"RR {e.respiratory_rate}/min" if e.respiratory_rate is not None else "",
                    )
                    if part
                )
                + f" at {_clock(e.occurred_at)}"
            ),
        ),
        due_on=to_local(infusion_session.started_at).date()
        + timedelta(days=current_app.config["REMS_SUBMIT_DAYS"]),
        lots=lots,
    )


def _clock(moment: datetime) -> str:
    return to_local(moment).strftime("%H:%M")


def _finding(entries: list[MonitoringEntry], describe: Callable[[MonitoringEntry], str]) -> Finding:
    return Finding(bool(entries), "; ".join(describe(e) for e in entries))


def _earlier_rems_session(infusion_session: InfusionSession) -> bool:
    earlier = db.session.scalars(
        sa.select(Administration.drug)
        .join(InfusionSession, Administration.session_id == InfusionSession.id)
        .where(
            InfusionSession.patient_id == infusion_session.patient_id,
            InfusionSession.started_at < infusion_session.started_at,
            InfusionSession.status != SessionStatus.CANCELLED,
            Administration.voided_at.is_(None),
            Administration.route == Route.INTRANASAL,
        )
    )
    return any(is_rems_drug(drug) for drug in earlier)


def _form_for_change(actor: User, session_id: int) -> tuple[InfusionSession, RemsForm]:
    """The session (row locked, so two answers queue) and its form row, made on first use. The
    form may still be answered and submitted once the chart is signed: it is filed within the
    programme's days, often after signing."""
    infusion_session = lock_session(session_id)
    if not rems_administrations(session_id):
        raise ChartError("This session has no esketamine given intranasally: no REMS form.")
    form = rems_form_of(session_id)
    if form is None:
        form = RemsForm(session_id=session_id)
        db.session.add(form)
        db.session.flush()
    return infusion_session, form


def answer_ready_to_leave(actor: User, session_id: int, minutes: int) -> RemsForm:
    """When the patient would have been ready to leave, in minutes from the first device."""
    if isinstance(minutes, bool) or not 0 <= minutes <= READY_MINUTES_MAX:
        raise ChartError(
            f"Enter the minutes from the first device, 0 to {READY_MINUTES_MAX}.",
            "ready_to_leave_minutes",
        )
    infusion_session, form = _form_for_change(actor, session_id)
    if form.submitted_on is not None:
        raise ChartError("The form was submitted: its answers are as submitted.")
    if form.ready_to_leave_minutes == minutes:
        return form  # the same answer again (a double tap): nothing changes
    before = {"ready_to_leave_minutes": form.ready_to_leave_minutes}
    form.ready_to_leave_minutes = minutes
    form.ready_answered_by_id = actor.id
    form.ready_answered_at = utcnow()
    # Every answer's event holds the whole answer (who, when, the session): the trail replays
    # the form's row from it (clinic/review/record_trail.py).
    record_audit_event(
        actor_id=actor.id,
        action="rems_ready_answered",
        entity="rems_form",
        entity_id=form.id,
        patient_id=infusion_session.patient_id,
        changes={
            **diff(before, {"ready_to_leave_minutes": minutes}),
            "session_id": session_id,
            "ready_answered_by_id": actor.id,
            "ready_answered_at": form.ready_answered_at.isoformat(),
        },
    )
    return form


def mark_submitted(actor: User, session_id: int, submitted_on: date) -> RemsForm:
    """The form was sent to the programme on `submitted_on`: recorded once, audited."""
    infusion_session, form = _form_for_change(actor, session_id)
    if form.submitted_on is not None:
        raise ChartError(f"Already marked submitted on {form.submitted_on.isoformat()}.")
    if form.ready_to_leave_minutes is None:
        raise ChartError(
            "Answer when the patient would have been ready to leave first.",
            "ready_to_leave_minutes",
        )
    if submitted_on > local_now().date():
        raise ChartError("The submission date is in the future.", "submitted_on")
    if submitted_on < to_local(infusion_session.started_at).date():
        raise ChartError("The submission date is before the session.", "submitted_on")
    form.submitted_on = submitted_on
    form.submitted_by_id = actor.id
    form.submitted_at = utcnow()
    record_audit_event(
        actor_id=actor.id,
        action="rems_form_submitted",
        entity="rems_form",
        entity_id=form.id,
        patient_id=infusion_session.patient_id,
        changes={
            "session_id": session_id,
            "submitted_on": [None, submitted_on.isoformat()],
            "submitted_by_id": actor.id,
            "submitted_at": form.submitted_at.isoformat(),
        },
    )
    return form


@dataclass(frozen=True)
class RemsDue:
    infusion_session: InfusionSession
    due_on: date
    days_left: int


def rems_forms_due(days_back: int = 30) -> list[RemsDue]:
    """Esketamine sessions of the last `days_back` days whose form is not yet submitted, the
    soonest due first (overdue ones with days left below 0)."""
    since = utcnow() - timedelta(days=days_back)
    submitted = sa.select(RemsForm.session_id).where(RemsForm.submitted_on.is_not(None))
    candidates = db.session.scalars(
        sa.select(InfusionSession)
        .join(Administration, Administration.session_id == InfusionSession.id)
        .where(
            InfusionSession.started_at >= since,
            InfusionSession.status != SessionStatus.CANCELLED,
            InfusionSession.id.not_in(submitted),
            Administration.route == Route.INTRANASAL,
            Administration.voided_at.is_(None),
        )
        .order_by(InfusionSession.started_at)
        .distinct()
    ).all()
    today = local_now().date()
    days = current_app.config["REMS_SUBMIT_DAYS"]
    due = []
    for infusion_session in candidates:
        if not rems_administrations(infusion_session.id):
            continue
        due_on = to_local(infusion_session.started_at).date() + timedelta(days=days)
        due.append(RemsDue(infusion_session, due_on, (due_on - today).days))
    return due
