"""The end of a session: the discharge checklist, the discharge itself, or a cancellation."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import selectinload

from clinic.audit.services import diff, record_audit_event
from clinic.auth.models import Role, User
from clinic.clinic_time import format_local
from clinic.database import utcnow
from clinic.extensions import db
from clinic.sessions.entries import (
    ChartError,
    EntryNotFoundError,
    begin_entry,
    require_not_ahead,
    store_entry,
)
from clinic.sessions.guards import lock_session_for_change
from clinic.sessions.models import (
    Administration,
    ChecklistCompletion,
    ChecklistItem,
    InfusionSession,
    SessionStatus,
)
from clinic.sessions.route_profiles import Observation, observation, route_profile
from clinic.sessions.services.discharge_assessment import latest_assessment
from clinic.sessions.services.follow_up import cssrs_outstanding
from clinic.submissions import Saved


class StaleChecklistError(ChartError):
    def __init__(self, current: ChecklistCompletion | None) -> None:
        now = (
            "now: "
            + ("done" if current.done else f"not done ({current.not_done_reason})")
            + (f", {current.detail}" if current.detail else "")
            + f", by {current.recorded_by.display_name}"
            if current is not None
            else "its entry was voided"
        )
        super().__init__(
            f"Someone else recorded this item since you opened the chart ({now}). "
            "Check it and save again if yours is still right."
        )
        self.current_id = "" if current is None else str(current.id)


@dataclass(frozen=True)
class ChecklistRow:
    item: ChecklistItem
    current: ChecklistCompletion | None
    history: list[ChecklistCompletion] = field(default_factory=list)


# Built once: the chart reads both on every view.
ACTIVE_CHECKLIST_ITEMS = (
    sa.select(ChecklistItem)
    .where(ChecklistItem.active.is_(True))
    .order_by(ChecklistItem.position, ChecklistItem.id)
)


COMPLETIONS_OF_SESSION = (
    sa.select(ChecklistCompletion)
    .where(ChecklistCompletion.session_id == sa.bindparam("session_id"))
    .order_by(ChecklistCompletion.id)
)


def active_checklist_items() -> list[ChecklistItem]:
    return list(db.session.scalars(ACTIVE_CHECKLIST_ITEMS))


def checklist_rows(session_id: int) -> list[ChecklistRow]:
    """Each active item with its current state: the latest completion not voided."""
    completions = db.session.scalars(COMPLETIONS_OF_SESSION, {"session_id": session_id}).all()
    rows = []
    for item in active_checklist_items():
        history = [c for c in completions if c.item_id == item.id]
        current = next((c for c in reversed(history) if not c.is_voided), None)
        rows.append(ChecklistRow(item, current, history))
    return rows


def record_checklist(
    actor: User,
    session_id: int,
    item_id: int,
    *,
    done: bool,
    not_done_reason: str | None = None,
    detail: str | None = None,
    note: str = "",
    submission_key: str | None = None,
    shown_state: str | None = None,
) -> Saved[ChecklistCompletion]:
    """Record an item as done or not done.

    `shown_state` is the id of the completion the form showed as current ("" for none; None
    skips the check): if another one was recorded since, the save is refused with what is now
    on the record, so two people never replace each other's entry unseen.
    """
    infusion_session, earlier = begin_entry(
        ChecklistCompletion,
        session_id,
        submission_key,
        actor=actor,
        same_form=lambda c: c.item_id == item_id,
    )
    if earlier is not None:
        return earlier
    item = db.session.get(ChecklistItem, item_id)
    if item is None or not item.active:
        raise EntryNotFoundError(item_id)
    if shown_state is not None:
        current = db.session.scalar(
            sa.select(ChecklistCompletion)
            .where(
                ChecklistCompletion.session_id == session_id,
                ChecklistCompletion.item_id == item_id,
                ChecklistCompletion.voided_at.is_(None),
            )
            .order_by(ChecklistCompletion.id.desc())
            .limit(1)
        )
        if (str(current.id) if current else "") != shown_state:
            raise StaleChecklistError(current)
    reason = (not_done_reason or "").strip() or None
    detail = (detail or "").strip() or None
    if not done and reason is None:
        raise ChartError("Give the reason it was not done.", "not_done_reason")
    if done and item.detail_label and detail is None:
        raise ChartError(f"Enter the {item.detail_label.lower()}.", "detail")
    completion = ChecklistCompletion(
        session_id=infusion_session.id,
        item_id=item.id,
        done=done,
        # A reason belongs to "not done" only; a stale one typed before ticking done is dropped.
        not_done_reason=None if done else reason,
        detail=detail,
        note=(note or "").strip(),
        recorded_by_id=actor.id,
    )
    return store_entry(
        actor,
        completion,
        patient_id=infusion_session.patient_id,
        action="checklist_recorded",
        changes={
            "session_id": infusion_session.id,
            "item": item.code,
            "done": done,
            "not_done_reason": completion.not_done_reason,
            "detail": detail,
            "note": completion.note,
        },
        submission_key=submission_key,
    )


def cancel_session(actor: User, session_id: int, reason: str) -> InfusionSession:
    infusion_session = lock_session_for_change(session_id)
    reason = (reason or "").strip()
    if not reason:
        raise ChartError("Give the reason for cancelling.", "cancel_reason")
    if infusion_session.status == SessionStatus.CANCELLED:
        raise ChartError("This session is already cancelled.", "cancel_reason")
    previous = infusion_session.status
    infusion_session.status = SessionStatus.CANCELLED
    infusion_session.cancelled_at = utcnow()
    infusion_session.cancel_reason = reason
    record_audit_event(
        actor_id=actor.id,
        action="session_cancelled",
        entity="infusion_session",
        entity_id=infusion_session.id,
        patient_id=infusion_session.patient_id,
        changes={
            "status": [previous.value, SessionStatus.CANCELLED.value],
            "cancelled_at": infusion_session.cancelled_at.isoformat(),
            "cancel_reason": reason,
        },
    )
    return infusion_session


# Two posts of an untouched discharge time are stamped "now" a moment apart.
DOUBLE_TAP_WINDOW = timedelta(minutes=2)


class StaleSessionError(ChartError):
    """The session changed since the form was loaded: a save now would overwrite it unseen."""


def session_observation(infusion_session: InfusionSession) -> Observation:
    """The route's minimum observation for this session, from its administrations as recorded."""
    administrations = db.session.scalars(
        sa.select(Administration)
        .where(Administration.session_id == infusion_session.id)
        .options(selectinload(Administration.events))
    ).unique()
    profile = route_profile(current_app.config["ROUTE_PROFILES"], infusion_session.route.value)
    return observation(profile, administrations)


def discharge_problems(infusion_session: InfusionSession, discharged_at: datetime) -> list[str]:
    """What a discharge at this time lacks: the route's minimum observation after the last
    treatment, and a modified Aldrete total at the configured score (where one was assessed)."""
    problems = []
    kept = session_observation(infusion_session)
    if kept.running:
        problems.append(
            "The infusion has no end recorded: record when it ended or stopped first, "
            f"then {kept.minutes} minutes of observation."
        )
    elif not kept.allows(discharged_at):
        assert kept.ends_at is not None
        problems.append(
            f"Too early: the route needs {kept.minutes} minutes of observation after the "
            f"last treatment, until {format_local(kept.ends_at, '%H:%M')}."
        )
    assessment = latest_assessment(infusion_session.id)
    minimum = current_app.config["DISCHARGE_MIN_ALDRETE"]
    if assessment is not None and assessment.total < minimum:
        problems.append(
            f"The latest modified Aldrete total is {assessment.total}, below {minimum}."
        )
    return problems


def require_observation_kept(
    actor: User, infusion_session: InfusionSession, discharged_at: datetime, override_reason: str
) -> str | None:
    """A discharge before the route's minimum observation, or below the discharge score, is
    refused unless a clinician overrides it with a reason (DESIGN.md invariant 8). Returns the
    override reason to record, if one is needed and given; an override already on the session
    stands for a correction."""
    problems = discharge_problems(infusion_session, discharged_at)
    if not problems:
        if override_reason:
            raise ChartError(
                "The discharge criteria are met at this time: no override is needed.",
                "override_reason",
            )
        return None
    if not override_reason:
        running = session_observation(infusion_session).running
        if infusion_session.discharge_override_reason and not running:
            return infusion_session.discharge_override_reason
        raise ChartError(
            " ".join(problems) + " A clinician may override with a reason.", "discharged_at"
        )
    if actor.role != Role.CLINICIAN:
        raise ChartError(
            "Only a clinician may override the minimum observation or the discharge score.",
            "override_reason",
        )
    return override_reason


def end_session(
    actor: User,
    session_id: int,
    discharged_at: datetime,
    discharged_with: str,
    expected_version: int,
    override_reason: str = "",
) -> None:
    """Record the discharge time and who the patient left with (a correction is audited too).

    `expected_version` is the session's version when the form was loaded: if someone recorded or
    corrected the discharge since, this save is refused instead of silently replacing theirs.
    A discharge before the route's minimum observation needs a clinician's `override_reason`.
    """
    infusion_session = lock_session_for_change(session_id)
    override_reason = (override_reason or "").strip()
    already_recorded = (
        infusion_session.discharged_at is not None
        and abs(infusion_session.discharged_at - discharged_at) < DOUBLE_TAP_WINDOW
        and infusion_session.discharged_with == discharged_with.strip()
        and override_reason in ("", infusion_session.discharge_override_reason)
    )
    if already_recorded:  # a double tap: the first post recorded this (its "now" a moment ago)
        return
    if expected_version != infusion_session.version:
        recorded = (
            f" It now says: left at {format_local(infusion_session.discharged_at, '%H:%M')} "
            f"with {infusion_session.discharged_with}."
            if infusion_session.discharged_at
            else ""
        )
        raise StaleSessionError(
            "Someone else changed this session since you opened the chart."
            + recorded
            + " Check your entry and save again if it is still right."
        )
    if discharged_at < infusion_session.started_at:
        raise ChartError("The discharge time is before the session started.", "discharged_at")
    outstanding = cssrs_outstanding(session_id)
    if outstanding:
        raise ChartError(
            "Not yet: the C-SSRS screener with a clinician's assessment is needed before "
            f"discharge ({'; '.join(outstanding)})."
        )
    require_not_ahead(discharged_at, "discharged_at")
    override = require_observation_kept(actor, infusion_session, discharged_at, override_reason)
    before = {
        "discharged_at": infusion_session.discharged_at,
        "discharged_with": infusion_session.discharged_with,
        "discharge_override_reason": infusion_session.discharge_override_reason,
        "discharge_override_by_id": infusion_session.discharge_override_by_id,
    }
    infusion_session.discharged_at = discharged_at
    infusion_session.discharged_with = discharged_with.strip()
    if override != infusion_session.discharge_override_reason:
        infusion_session.discharge_override_reason = override
        infusion_session.discharge_override_by_id = actor.id if override else None
    changes = diff(
        before,
        {
            "discharged_at": discharged_at,
            "discharged_with": infusion_session.discharged_with,
            "discharge_override_reason": infusion_session.discharge_override_reason,
            "discharge_override_by_id": infusion_session.discharge_override_by_id,
        },
    )
    if not changes:
        return
    record_audit_event(
        actor_id=actor.id,
        action="session_ended",
        entity="infusion_session",
        entity_id=infusion_session.id,
        patient_id=infusion_session.patient_id,
        changes=changes,
    )
