"""Route profiles: the vitals interval, the named checkpoints and the minimum observation of a
session's route, read from configuration (`ROUTE_PROFILES`, defaults from REFERENCE.md).

T+0 is the start of the first treatment administration (vitals.first_dosing_time); the
observation runs from the end of the last treatment administration. Rescue medicines move
neither. These are clocks read from entered times, never anything about a dose.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from clinic.sessions.models import (
    Administration,
    AdministrationPurpose,
    InfusionEventKind,
    InfusionSession,
    Method,
    MonitoringEntry,
)
from clinic.sessions.vitals import first_dosing_time

BEFORE_DOSING = "before_dosing"
END_OF_DOSING = "end_of_dosing"
BEFORE_DISCHARGE = "before_discharge"


@dataclass(frozen=True)
class Checkpoint:
    name: str
    at: str | int  # one of the names above, or minutes after T+0
    window_minutes: int
    vital: str


@dataclass(frozen=True)
class RouteProfile:
    interval_minutes: int | None  # None: the clinic's VITALS_SCHEDULE interval
    early_interval_minutes: int | None
    early_minutes: int
    checkpoints: tuple[Checkpoint, ...]
    observe_minutes: int


def route_profile(profiles: Mapping[str, Mapping[str, Any]], route: str) -> RouteProfile:
    """The profile of `route` from configuration, or the "default" one."""
    raw = profiles.get(route) or profiles["default"]
    return RouteProfile(
        interval_minutes=int(raw["interval_minutes"]) if raw.get("interval_minutes") else None,
        early_interval_minutes=(
            int(raw["early_interval_minutes"]) if raw.get("early_interval_minutes") else None
        ),
        early_minutes=int(raw.get("early_minutes", 0)),
        checkpoints=tuple(
            Checkpoint(
                name=str(point["name"]),
                at=point["at"] if isinstance(point["at"], str) else int(point["at"]),
                window_minutes=int(point.get("window_minutes", 10)),
                vital=str(point.get("vital", "systolic_bp")),
            )
            for point in raw.get("checkpoints", ())
        ),
        observe_minutes=int(raw["observe_minutes"]),
    )


def vitals_schedule(
    profile: RouteProfile, base: Mapping[str, Any], t_zero: datetime | None, now: datetime
) -> dict[str, Any]:
    """The schedule `vitals.next_vitals_due` reads, with the route's interval."""
    interval = profile.interval_minutes or int(base["interval_minutes"])
    early = profile.early_interval_minutes
    if early and t_zero is not None and now < t_zero + timedelta(minutes=profile.early_minutes):
        interval = early
    return {**base, "interval_minutes": interval}


class DosingEnd(enum.Enum):
    RUNNING = "running"  # an infusion with no end recorded yet


def _end_of(administration: Administration) -> datetime | DosingEnd:
    """When an administration ended: its end time, its infusion's stop, or (given at once) its
    start; an infusion with neither is still running."""
    if administration.ended_at is not None:
        return administration.ended_at
    if administration.method == Method.INFUSION:
        stops = [
            e.occurred_at
            for e in administration.events
            if e.kind == InfusionEventKind.STOPPED and not e.is_voided
        ]
        return min(stops) if stops else DosingEnd.RUNNING
    return administration.started_at


def treatments(administrations: Iterable[Administration]) -> list[Administration]:
    return [
        a
        for a in administrations
        if not a.is_voided and a.purpose == AdministrationPurpose.TREATMENT
    ]


def end_of_dosing(administrations: Iterable[Administration]) -> datetime | DosingEnd | None:
    """The end of the last treatment administration; None when none was given."""
    ends = [_end_of(a) for a in treatments(administrations)]
    if not ends:
        return None
    if DosingEnd.RUNNING in ends:
        return DosingEnd.RUNNING
    return max(e for e in ends if isinstance(e, datetime))


@dataclass(frozen=True)
class Observation:
    """When observation may end: `ends_at` once dosing has ended; `running` while an infusion
    still runs; neither before any treatment."""

    minutes: int
    ends_at: datetime | None
    running: bool

    def allows(self, moment: datetime) -> bool:
        """A discharge at `moment` keeps the minimum observation."""
        if self.running:
            return False
        return self.ends_at is None or moment >= self.ends_at


def observation(profile: RouteProfile, administrations: Iterable[Administration]) -> Observation:
    end = end_of_dosing(administrations)
    if end is DosingEnd.RUNNING:
        return Observation(profile.observe_minutes, None, running=True)
    if end is None:
        return Observation(profile.observe_minutes, None, running=False)
    assert isinstance(end, datetime)
    return Observation(
        profile.observe_minutes, end + timedelta(minutes=profile.observe_minutes), running=False
    )


class CheckpointStatus(enum.StrEnum):
    DONE = "done"
    DUE = "due"
    MISSED = "missed"
    PENDING = "pending"  # its time depends on something not yet charted (T+0, the end of dosing)


@dataclass(frozen=True)
class CheckpointState:
    checkpoint: Checkpoint
    status: CheckpointStatus
    due_at: datetime | None  # when it is due (the end of its window once missed)
    taken_at: datetime | None  # the vitals that met it

    @property
    def name(self) -> str:
        return self.checkpoint.name


def _taken_between(
    entries: Sequence[MonitoringEntry], vital: str, start: datetime | None, end: datetime | None
) -> datetime | None:
    for entry in entries:
        if entry.is_voided or getattr(entry, vital, None) is None:
            continue
        if (start is None or entry.occurred_at >= start) and (
            end is None or entry.occurred_at <= end
        ):
            return entry.occurred_at
    return None


def checkpoint_states(
    profile: RouteProfile,
    infusion_session: InfusionSession,
    entries: Sequence[MonitoringEntry],
    administrations: Sequence[Administration],
    now: datetime,
) -> list[CheckpointState]:
    """Each of the route's checkpoints as done, due, missed or pending, by the entered times."""
    t_zero = first_dosing_time(administrations)
    dosing_end = end_of_dosing(administrations)
    observe = observation(profile, administrations)
    left = infusion_session.discharged_at or infusion_session.cancelled_at
    closed = left or (now if infusion_session.is_signed else None)
    states = []
    for point in profile.checkpoints:
        window = timedelta(minutes=point.window_minutes)
        start: datetime | None
        end: datetime | None
        if point.at == BEFORE_DOSING:
            taken = _taken_between(entries, point.vital, None, t_zero)
            missed = t_zero is not None
            states.append(_state(point, taken, t_zero, missed))
            continue
        if isinstance(point.at, int):
            if t_zero is None:
                states.append(CheckpointState(point, CheckpointStatus.PENDING, None, None))
                continue
            target = t_zero + timedelta(minutes=point.at)
            start, end = target - window, target + window
        elif point.at == END_OF_DOSING:
            if not isinstance(dosing_end, datetime):
                states.append(CheckpointState(point, CheckpointStatus.PENDING, None, None))
                continue
            start, end = dosing_end, dosing_end + window
        else:  # before discharge: within the window before leaving (or before the earliest time)
            if t_zero is None:
                states.append(CheckpointState(point, CheckpointStatus.PENDING, None, None))
                continue
            anchor = left or observe.ends_at
            if anchor is None:
                states.append(CheckpointState(point, CheckpointStatus.PENDING, None, None))
                continue
            start, end = max(anchor - window, t_zero), (left or now)
        taken = _taken_between(entries, point.vital, start, end)
        deadline = left if point.at == BEFORE_DISCHARGE else end
        missed = deadline is not None and (deadline < now or closed is not None)
        states.append(_state(point, taken, deadline if missed else start, missed))
    return states


def _state(
    point: Checkpoint, taken: datetime | None, due_at: datetime | None, missed: bool
) -> CheckpointState:
    if taken is not None:
        return CheckpointState(point, CheckpointStatus.DONE, due_at, taken)
    if missed:
        return CheckpointState(point, CheckpointStatus.MISSED, due_at, None)
    return CheckpointState(point, CheckpointStatus.DUE, due_at, None)
