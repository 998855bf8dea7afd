"""Every clinical row against its audit trail, for `flask audit verify`.

The HMAC chain proves that the trail itself was not changed; this proves the record. Each
service writes, in the transaction of its change, an audit event holding the values it stored
(`{field: [old, new]}` or the value itself): the creation, each edit, the void, the signing. Those
events are replayed, per row, to the values the trail says the row holds now, and compared with
the row column by column, so an edit made behind the app's back (a heart rate, a dose, a cleared
void, a patient's allergies) is reported with its table, row and column. A row without a trail, or
a trail without its row, is reported too. Every signed session must still hash to its signature's
digest (the digest `signature_matches` shows on the chart, computed for a batch of sessions at
once).

Values are compared in one canonical form per column type (UTC ISO times, Decimals without
trailing zeros), so a record checks the same on SQLite and PostgreSQL. Text columns are named but
their values are not printed: the command's output may end up in a log.

Columns the trail does not hold (ids, row versions, the patient's last-edit time) are not compared.
Columns that events written before they were recorded lack are compared only where the event
holds them (`Trail.since`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from clinic.audit.models import AuditEvent
from clinic.audit.services import canonical_json
from clinic.database import UTCDateTime
from clinic.extensions import db
from clinic.orders.models import MedicationOrder
from clinic.patients.consents.models import Consent
from clinic.patients.courses.models import CourseReview, TreatmentCourse
from clinic.patients.models import Patient
from clinic.register.models import LedgerEntry
from clinic.register.services import ENTRY_RECORDED
from clinic.sessions.digest import canonical_contents, digest_of
from clinic.sessions.models import (
    Addendum,
    Administration,
    AdverseEvent,
    ChecklistCompletion,
    ChecklistItem,
    DischargeAssessment,
    InfusionEvent,
    InfusionSession,
    MonitoringEntry,
    RemsForm,
    Score,
    Screening,
    SessionStatus,
    Signature,
)

BATCH = 2000
SIGNED_BATCH = 200  # sessions whose whole content is read at once
EVENTS = AuditEvent.__table__

UNKNOWN: Any = object()  # a column an older event did not hold: not compared


@dataclass(frozen=True)
class Trail:
    """How one table's rows are written into the trail."""

    model: type[Any]
    creates: str  # the action that creates a row
    author: str  # the column the creating event's actor fills
    updates: tuple[str, ...] = ("entry_voided",)
    entity: str = ""  # the events' entity, when it is not the table's name
    not_audited: frozenset[str] = frozenset({"id"})
    since: frozenset[str] = frozenset()  # not held by events written before they were added
    renamed: Mapping[str, str] = field(default_factory=dict)  # event key -> column
    initial: Mapping[str, Any] = field(default_factory=dict)  # set by creating, not in the event
    entity_column: str = ""  # the column the events' entity id fills, when the row is not it

    @property
    def table(self) -> sa.Table:
        return self.model.__table__

    @property
    def columns(self) -> list[sa.Column[Any]]:
        return [c for c in self.table.columns if c.name not in self.not_audited]

    @property
    def actions(self) -> tuple[str, ...]:
        return (self.creates, *self.updates)

    def row_id(self, event: sa.Row[Any], changes: dict[str, Any]) -> int | None:
        return _int(event.entity_id)


class SignatureTrail(Trail):
    """A signature is written by the session's `session_signed` event, which names its id."""

    def row_id(self, event: sa.Row[Any], changes: dict[str, Any]) -> int | None:
        return _int(changes.get("signature_id"))


# What a void's event holds, by the column it sets (its "kind" names the entry's table, not the
# infusion event's kind); the voider is its actor.
VOID_COLUMNS = {"voided_at": "voided_at", "reason": "void_reason"}
# The time an entry was stored, its session where the event did not name it, and a pain score's
# answers and flag: held by the events written since the trail had to prove the record.
ENTRY_SINCE = frozenset({"recorded_at"})

TRAILS: tuple[Trail, ...] = (
    Trail(
        Patient,
        "patient_registered",
        "created_by_id",
        updates=("patient_updated",),
        not_audited=frozenset({"id", "updated_at", "version"}),
        since=frozenset({"created_at", "rems_patient_id"}),
    ),
    Trail(Consent, "consent_recorded", "recorded_by_id", updates=("consent_withdrawn",)),
    Trail(TreatmentCourse, "course_opened", "clinician_id", updates=("course_ended",)),
    Trail(CourseReview, "course_reviewed", "clinician_id", updates=()),
    Trail(
        InfusionSession,
        "session_opened",
        "created_by_id",
        updates=("session_ended", "session_cancelled", "session_signed"),
        not_audited=frozenset({"id", "version"}),
        since=frozenset({"created_at"}),
        initial={"status": SessionStatus.IN_PROGRESS.value},
    ),
    Trail(
        MedicationOrder,
        "order_written",
        "signed_by_id",
        updates=("order_superseded", "order_discontinued"),
    ),
    Trail(
        Administration,
        "administration_recorded",
        "recorded_by_id",
        updates=("entry_voided", "deviation_acknowledged"),
        since=ENTRY_SINCE | {"purpose"},
    ),
    Trail(
        InfusionEvent,
        "infusion_event_recorded",
        "recorded_by_id",
        since=ENTRY_SINCE | {"session_id"},
    ),
    Trail(MonitoringEntry, "monitoring_recorded", "recorded_by_id", since=ENTRY_SINCE),
    # The register's ledger: only appended to (a void is an entry of its own), one action for
    # every kind of entry.
    Trail(LedgerEntry, ENTRY_RECORDED, "recorded_by_id", updates=()),
    Trail(
        Score,
        "score_recorded",
        "recorded_by_id",
        since=ENTRY_SINCE
        | {"session_id", "answers", "risk_flag", "instrument_version_id", "assessment_note"},
    ),
    Trail(
        ChecklistCompletion,
        "checklist_recorded",
        "recorded_by_id",
        since=ENTRY_SINCE | {"session_id"},
        renamed={"item": "item_id"},
    ),
    Trail(
        Screening,
        "screening_recorded",
        "recorded_by_id",
        updates=("screening_updated", "screening_overridden"),
        not_audited=frozenset({"id", "version"}),
    ),
    Trail(
        AdverseEvent,
        "adverse_event_recorded",
        "recorded_by_id",
        updates=("entry_voided", "adverse_event_resolved"),
    ),
    Trail(DischargeAssessment, "discharge_assessed", "recorded_by_id"),
    Trail(
        Addendum,
        "addendum_added",
        "author_id",
        updates=(),
        since=frozenset({"session_id", "created_at"}),
    ),
    # The REMS form's row is made by its first ready-to-leave answer (a submission needs one),
    # and each answer's event holds the whole answer.
    Trail(
        RemsForm, "rems_ready_answered", "ready_answered_by_id", updates=("rems_form_submitted",)
    ),
    SignatureTrail(
        Signature,
        "session_signed",
        "signer_id",
        updates=(),
        entity="infusion_session",
        entity_column="session_id",
        since=frozenset({"signer_name", "signer_credentials", "signed_at"}),
    ),
)


@dataclass(frozen=True)
class RecordProblem:
    table: str
    row_id: int
    column: str | None
    text: str

    def __str__(self) -> str:
        return f"{self.table} {self.row_id} {self.text}"


@dataclass(frozen=True)
class RecordsCheck:
    checked: int
    problems: list[RecordProblem]

    @property
    def ok(self) -> bool:
        return not self.problems


def check_records(batch: int = BATCH) -> RecordsCheck:
    """Every clinical row against the values its audit events last recorded, and every signed
    session against its signature. Read in batches; call inside one read transaction (a
    snapshot) so that a change committed meanwhile is seen whole or not at all."""
    checked, problems = 0, []
    item_ids = dict(db.session.execute(sa.select(ChecklistItem.code, ChecklistItem.id)).all())
    for trail in TRAILS:
        expected, uncreated = _replay(trail, item_ids, batch)
        for row in _rows(trail.table, batch):
            checked += 1
            if row.id in uncreated:
                problems.append(
                    RecordProblem(trail.table.name, row.id, None, "has no trail of its creation")
                )
            problems.extend(_compare(trail, row, expected.pop(row.id, None)))
        problems.extend(
            RecordProblem(trail.table.name, row_id, None, "is in its trail but not in the database")
            for row_id in sorted(expected)
        )
    problems.extend(_signatures_not_matching(min(batch, SIGNED_BATCH)))
    return RecordsCheck(checked, problems)


# --- the trail, replayed ------------------------------------------------------------------------


def _replay(
    trail: Trail, item_ids: Mapping[str, int], batch: int
) -> tuple[dict[int, dict[str, Any]], set[int]]:
    """What the trail says each row of the table holds now, {row id: {column: value}}, and the
    rows it edits without having created them."""
    columns = {c.name: c for c in trail.columns}
    states: dict[int, dict[str, Any]] = {}
    uncreated: set[int] = set()
    for event in _events(trail, batch):
        changes = json.loads(event.changes or "{}")
        row_id = trail.row_id(event, changes)
        if row_id is None:
            continue
        if event.action == trail.creates:
            state = {name: UNKNOWN if name in trail.since else None for name in columns}
            state.update(trail.initial)
            state[trail.author] = event.actor_id
            if trail.entity_column:
                state[trail.entity_column] = _int(event.entity_id)
            if "patient_id" in columns:
                state["patient_id"] = event.patient_id
            states[row_id] = state
        else:
            if row_id not in states:
                # An edit of a row whose creation is not in the trail: compared as far as it goes.
                uncreated.add(row_id)
                states[row_id] = dict.fromkeys(columns, UNKNOWN)
            state = states[row_id]
        if event.action == "entry_voided":
            state["voided_by_id"] = event.actor_id
            written = {VOID_COLUMNS[k]: v for k, v in changes.items() if k in VOID_COLUMNS}
        else:
            written = {trail.renamed.get(key, key): value for key, value in changes.items()}
        for name, value in written.items():
            column = columns.get(name)
            if column is None:
                continue
            if isinstance(value, list) and not isinstance(column.type, sa.JSON):
                value = value[-1]  # {field: [old, new]}
            if name == "item_id":
                value = item_ids.get(value, value)
            state[name] = value
    return states, uncreated


def _events(trail: Trail, batch: int) -> Iterator[sa.Row[Any]]:
    """The events that write the table's rows, oldest first, `batch` at a time."""
    last_id = 0
    while True:
        rows = db.session.execute(
            sa.select(
                EVENTS.c.id,
                EVENTS.c.actor_id,
                EVENTS.c.action,
                EVENTS.c.entity_id,
                EVENTS.c.patient_id,
                EVENTS.c.changes,
            )
            .where(
                EVENTS.c.id > last_id,
                EVENTS.c.action.in_(trail.actions),
                EVENTS.c.entity == (trail.entity or trail.table.name),
            )
            .order_by(EVENTS.c.id)
            .limit(batch)
        ).all()
        yield from rows
        if len(rows) < batch:
            return
        last_id = rows[-1].id


def _rows(table: sa.Table, batch: int) -> Iterator[sa.Row[Any]]:
    """The table's rows as the database driver returns them: a value written behind the app's
    back that its column type cannot read (an unknown enum value, a time that is not one) is
    reported as it is stored rather than stopping the check."""
    raw = [sa.type_coerce(column, sa.types.NullType()).label(column.name) for column in table.c]
    last_id = 0
    while True:
        rows = db.session.execute(
            sa.select(*raw).where(table.c.id > last_id).order_by(table.c.id).limit(batch)
        ).all()
        yield from rows
        if len(rows) < batch:
            return
        last_id = rows[-1].id


# --- comparing ----------------------------------------------------------------------------------


def _compare(
    trail: Trail, row: sa.Row[Any], expected: dict[str, Any] | None
) -> Iterator[RecordProblem]:
    table = trail.table.name
    if expected is None:
        yield RecordProblem(table, row.id, None, "has no trail: no audit event recorded it")
        return
    values = row._mapping
    for column in trail.columns:
        wanted = expected[column.name]
        if wanted is UNKNOWN:
            continue
        found, said = _canonical(column, values[column.name]), _canonical(column, wanted)
        if found != said:
            yield RecordProblem(table, row.id, column.name, _difference(column, found, said))


def _canonical(column: sa.Column[Any], value: Any) -> Any:
    """One form per column type, the same for a value read from either database or the trail."""
    if value is None or (isinstance(value, str) and value == ""):
        return None  # an empty optional text is stored as either
    kind = column.type
    try:
        if isinstance(kind, UTCDateTime):
            moment = datetime.fromisoformat(value) if isinstance(value, str) else value
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return moment.astimezone(UTC).isoformat(timespec="microseconds")
        if isinstance(kind, sa.Date):
            return (date.fromisoformat(value) if isinstance(value, str) else value).isoformat()
        if isinstance(kind, sa.Numeric):
            return format(Decimal(str(value)).normalize(), "f")
        if isinstance(kind, sa.Boolean):
            # SQLite stores a boolean as 0 or 1.
            return value if isinstance(value, bool) else bool(value) if value in (0, 1) else value
        if isinstance(kind, sa.Integer):
            return value if isinstance(value, int) else int(value)
        if isinstance(kind, sa.JSON):
            # SQLite hands back the stored text, PostgreSQL's driver the parsed value.
            return canonical_json(json.loads(value) if isinstance(value, str) else value)
    except (TypeError, ValueError, AttributeError, ArithmeticError):
        return str(value)  # not a value of the column's type: differs from any that is
    return str(getattr(value, "value", value))


def _difference(column: sa.Column[Any], found: Any, said: Any) -> str:
    if _is_text(column):
        return f"{column.name} is not what its trail says (text, not shown)"
    return f"{column.name} is {_shown(found)}, its trail says {_shown(said)}"


def _is_text(column: sa.Column[Any]) -> bool:
    return isinstance(column.type, sa.String) and not isinstance(column.type, sa.Enum)


def _shown(value: Any) -> str:
    return "empty" if value is None else str(value).lower() if isinstance(value, bool) else value


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --- signatures ---------------------------------------------------------------------------------


def _signatures_not_matching(batch: int) -> Iterator[RecordProblem]:
    """Signed sessions whose content no longer hashes to their signature's digest.

    The digest is the one `signature_matches` recomputes for the chart, for many sessions at
    once; the rest of what it checks (the signature's signer, meaning, time and digest as the
    signing's event sealed them) is the signature table's own trail above.
    """
    signatures = Signature.__table__
    last_id = 0
    while True:
        rows = db.session.execute(
            sa.select(signatures.c.id, signatures.c.session_id, signatures.c.content_digest)
            .where(signatures.c.id > last_id)
            .order_by(signatures.c.id)
            .limit(batch)
        ).all()
        digests = _digests({row.session_id for row in rows})
        for row in rows:
            if digests.get(row.session_id) != row.content_digest:
                yield RecordProblem(
                    "infusion_session",
                    row.session_id,
                    None,
                    f"no longer matches its signature (signature {row.id}): "
                    "the record was changed after signing",
                )
        if len(rows) < batch:
            return
        last_id = rows[-1].id


UNREADABLE = (LookupError, ValueError, TypeError, ArithmeticError)


def _digests(session_ids: set[int]) -> dict[int, str | None]:
    """Each session's digest now; None for one whose rows the models cannot read any more (a
    value written behind the app's back that its column type refuses: not what was signed)."""
    try:
        contents = canonical_contents(session_ids)
    except UNREADABLE:
        if len(session_ids) == 1:
            return dict.fromkeys(session_ids)
        found: dict[int, str | None] = {}
        for session_id in session_ids:
            found.update(_digests({session_id}))
        return found
    return {session_id: digest_of(content) for session_id, content in contents.items()}
