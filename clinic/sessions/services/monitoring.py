"""Monitoring entries: vitals, sedation, dissociation, nausea, pain and notes.

The service holds the plausibility limits as well as the form, so a value the form would refuse
is refused whichever way it comes in."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal

from clinic.auth.models import User
from clinic.sessions.entries import (
    ChartError,
    audit_values,
    begin_entry,
    require_time_in_session,
    store_entry,
)
from clinic.sessions.models import (
    Dissociation,
    MonitoringEntry,
    Nausea,
    Phase,
)
from clinic.sessions.vitals import PLAUSIBLE, implausibility
from clinic.submissions import Saved


@dataclass(frozen=True)
class MonitoringDetails:
    phase: Phase
    occurred_at: datetime
    systolic_bp: int | None = None
    diastolic_bp: int | None = None
    heart_rate: int | None = None
    spo2: int | None = None
    respiratory_rate: int | None = None
    temperature_c: Decimal | None = None
    sedation_moaas: int | None = None
    dissociation: Dissociation | None = None
    nausea: Nausea | None = None
    pain_nrs: int | None = None
    note: str = ""

    def is_empty(self) -> bool:
        values = asdict(self)
        del values["phase"], values["occurred_at"], values["note"]
        return all(v is None for v in values.values()) and not self.note.strip()


def record_monitoring(
    actor: User, session_id: int, details: MonitoringDetails, submission_key: str | None
) -> Saved[MonitoringEntry]:
    infusion_session, earlier = begin_entry(
        MonitoringEntry, session_id, submission_key, actor=actor
    )
    if earlier is not None:
        return earlier
    require_time_in_session(infusion_session, details.occurred_at, "occurred_at")
    if details.is_empty():
        raise ChartError("Enter at least one value or a note.")
    # The same limits as the form: the record refuses them whichever way they come in.
    for name in PLAUSIBLE:
        message = implausibility(name, getattr(details, name, None))
        if message:
            raise ChartError(message, name)
    if (
        details.systolic_bp is not None
        and details.diastolic_bp is not None
        and details.diastolic_bp >= details.systolic_bp
    ):
        raise ChartError("Diastolic must be below systolic.", "diastolic_bp")
    entry = MonitoringEntry(
        session_id=infusion_session.id, recorded_by_id=actor.id, **asdict(details)
    )
    return store_entry(
        actor,
        entry,
        patient_id=infusion_session.patient_id,
        action="monitoring_recorded",
        changes={"session_id": [None, infusion_session.id], **audit_values(details)},
        submission_key=submission_key,
    )
