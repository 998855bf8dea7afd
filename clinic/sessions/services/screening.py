"""The pre-session screening: recorded once per session and corrected in place, its go, warn or
no-go read by the configured rules, and a clinician's override of a no-go.

A no-go holds the first treatment administration (services/administrations.py asks
`require_screening_allows_treatment`) until a clinician records an override with a reason.
Two people saving the screening at once never replace each other unseen: the form carries the
version it showed, and a save over a newer one is refused with what is now on the record.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app

from clinic.audit.services import diff, record_audit_event
from clinic.auth.models import Role, User
from clinic.database import utcnow
from clinic.extensions import db
from clinic.sessions.entries import ChartError, begin_entry, require_time_in_session, store_entry
from clinic.sessions.guards import lock_session_for_change
from clinic.sessions.models import (
    Administration,
    AdministrationPurpose,
    ConcomitantMedicine,
    InfusionSession,
    MonitoringEntry,
    Pregnancy,
    Screening,
)
from clinic.sessions.screening_rules import ScreeningResult, evaluate_screening
from clinic.sessions.vitals import first_dosing_time
from clinic.submissions import Saved, remember_submission


@dataclass(frozen=True)
class ScreeningDetails:
    occurred_at: datetime
    pregnancy: Pregnancy
    last_solid_food_at: datetime | None
    last_clear_fluid_at: datetime | None
    concomitant_medicines: list[str] = field(default_factory=list)
    alcohol_or_drugs: bool = False
    new_problems: str = ""
    suicidality_positive: bool = False
    escort_present: bool = False
    escort_name: str = ""
    escort_relationship: str = ""
    escort_phone: str = ""
    note: str = ""


class StaleScreeningError(ChartError):
    """The screening changed since the form was shown: this save would replace it unseen."""

    def __init__(self, current: Screening) -> None:
        super().__init__(
            f"{current.recorded_by.display_name} saved this screening since you opened the "
            "chart. Check what is recorded now and save again if yours is still right."
        )
        self.current_version = current.version


def screening_of(session_id: int) -> Screening | None:
    return db.session.scalar(sa.select(Screening).where(Screening.session_id == session_id))


def _values(details: ScreeningDetails) -> dict[str, Any]:
    """The entered values as the trail holds them: times as ISO text, the medicines' list as it
    is (a JSON column's value is never an [old, new] pair)."""
    values = asdict(details)
    values["pregnancy"] = details.pregnancy.value
    return {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in values.items()
    }


def _check(infusion_session: InfusionSession, details: ScreeningDetails) -> None:
    require_time_in_session(infusion_session, details.occurred_at, "occurred_at")
    for name in ("last_solid_food_at", "last_clear_fluid_at"):
        moment = getattr(details, name)
        if moment is not None and moment > details.occurred_at:
            raise ChartError("This time is after the screening.", name)
    unknown = set(details.concomitant_medicines) - {m.value for m in ConcomitantMedicine}
    if unknown:
        raise ChartError("Choose from the medicines listed.", "concomitant_medicines")
    if details.escort_present and not details.escort_name.strip():
        raise ChartError("Enter the escort's name.", "escort_name")


def record_screening(
    actor: User,
    session_id: int,
    details: ScreeningDetails,
    shown_version: int | None,
    submission_key: str | None,
) -> Saved[Screening]:
    """Record the session's screening, or correct it. `shown_version` is the version of the
    screening the form showed (None: it showed none)."""
    infusion_session, earlier = begin_entry(Screening, session_id, submission_key, actor=actor)
    if earlier is not None:
        return earlier
    _check(infusion_session, details)
    current = screening_of(session_id)
    if current is not None and current.version != shown_version:
        raise StaleScreeningError(current)
    if current is None and shown_version is not None:
        raise ChartError("The screening you opened is no longer on the record: reload the chart.")
    values = _values(details)
    if current is None:
        screening = Screening(
            session_id=infusion_session.id, recorded_by_id=actor.id, **asdict(details)
        )
        return store_entry(
            actor,
            screening,
            patient_id=infusion_session.patient_id,
            action="screening_recorded",
            changes={"session_id": infusion_session.id, **values},
            submission_key=submission_key,
        )
    before = _values(ScreeningDetails(**{name: getattr(current, name) for name in asdict(details)}))
    for name, value in asdict(details).items():
        setattr(current, name, value)
    current.recorded_by_id = actor.id
    current.recorded_at = utcnow()
    changes: dict[str, Any] = diff(before, values)
    if "concomitant_medicines" in changes:
        changes["concomitant_medicines"] = values["concomitant_medicines"]
    db.session.flush()
    remember_submission(submission_key, actor.id, "screening", current.id)
    record_audit_event(
        actor_id=actor.id,
        action="screening_updated",
        entity="screening",
        entity_id=current.id,
        patient_id=infusion_session.patient_id,
        changes={
            **changes,
            "recorded_by_id": actor.id,
            "recorded_at": current.recorded_at.isoformat(),
        },
    )
    return Saved(current)


def override_screening(actor: User, session_id: int, reason: str) -> Screening:
    """A clinician's decision to go ahead despite a no-go, with the reason (audited)."""
    infusion_session = lock_session_for_change(session_id)
    if actor.role != Role.CLINICIAN:
        raise PermissionError
    reason = (reason or "").strip()
    if not reason:
        raise ChartError("Give the reason for going ahead.", "override_reason")
    screening = screening_of(session_id)
    if screening is None:
        raise ChartError("There is no screening to override yet.", "override_reason")
    if screening.override_reason:
        return screening  # already overridden (a double tap, or two clinicians at once)
    result = screening_result(session_id, screening)
    if result is None or not result.no_go:
        raise ChartError("The screening is not a no-go: there is nothing to override.")
    screening.override_reason = reason
    screening.override_by_id = actor.id
    screening.override_at = utcnow()
    record_audit_event(
        actor_id=actor.id,
        action="screening_overridden",
        entity="screening",
        entity_id=screening.id,
        patient_id=infusion_session.patient_id,
        changes={
            "override_reason": reason,
            "override_by_id": actor.id,
            "override_at": screening.override_at.isoformat(),
        },
    )
    return screening


def screening_result(session_id: int, screening: Screening | None = None) -> ScreeningResult | None:
    """The screening's go, warn or no-go as the rules read it now (None: not screened)."""
    screening = screening or screening_of(session_id)
    if screening is None:
        return None
    entries = db.session.scalars(
        sa.select(MonitoringEntry).where(MonitoringEntry.session_id == session_id)
    ).all()
    administrations = db.session.scalars(
        sa.select(Administration).where(Administration.session_id == session_id)
    ).unique()
    return evaluate_screening(
        screening,
        entries,
        first_dosing_time(administrations),
        current_app.config["SCREENING_RULES"],
    )


def require_screening_allows_treatment(infusion_session: InfusionSession) -> None:
    """The first treatment administration waits for a clinician's override of a no-go."""
    given = db.session.scalar(
        sa.select(Administration.id)
        .where(
            Administration.session_id == infusion_session.id,
            Administration.purpose == AdministrationPurpose.TREATMENT,
            Administration.voided_at.is_(None),
        )
        .limit(1)
    )
    if given is not None:
        return
    screening = screening_of(infusion_session.id)
    if screening is None or screening.override_reason:
        return
    result = screening_result(infusion_session.id, screening)
    if result is not None and result.no_go:
        reasons = "; ".join(text for outcome, text in result.reasons if outcome == "no_go")
        raise ChartError(
            f"The screening is a no-go ({reasons}): the first treatment waits for a "
            "clinician's override with a reason.",
            "order_id",
        )
