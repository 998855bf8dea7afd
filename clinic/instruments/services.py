"""Reading instrument versions, and adding one (an instrument, or a new version of one).

A version is never changed: adding a version leaves every score taken with the earlier one as it
was, read with the definition it was taken with."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import g

from clinic.audit.services import record_audit_event
from clinic.auth.models import User
from clinic.extensions import db
from clinic.instruments.definitions import Definition, parse_definition
from clinic.instruments.models import InstrumentVersion


def all_versions() -> list[InstrumentVersion]:
    """Every version (a handful): callers pick what they need from one query."""
    return list(
        db.session.scalars(
            sa.select(InstrumentVersion).order_by(InstrumentVersion.code, InstrumentVersion.version)
        )
    )


def current_versions() -> list[InstrumentVersion]:
    """The newest version of each instrument, in the order the instruments were first added."""
    first_id: dict[str, int] = {}
    newest: dict[str, InstrumentVersion] = {}
    for version in all_versions():
        first_id[version.code] = min(first_id.get(version.code, version.id), version.id)
        newest[version.code] = version
    return sorted(newest.values(), key=lambda v: first_id[v.code])


def current_version(code: str) -> InstrumentVersion | None:
    return db.session.scalar(
        sa.select(InstrumentVersion)
        .where(InstrumentVersion.code == code)
        .order_by(InstrumentVersion.version.desc())
        .limit(1)
    )


def _versions_by_id() -> dict[int, InstrumentVersion]:
    """Every version, read once per application context: a page of scores reads a handful of
    versions, not one per score. A version never changes, so nothing read here goes stale;
    one added in this context is found by its id below."""
    known = g.get("instrument_versions")
    if known is None:
        known = g.instrument_versions = {v.id: v for v in all_versions()}
    return known


def version_for_score(code: str, version_id: int | None) -> InstrumentVersion:
    """The version a score was taken with. Scores stored before instruments were data (0015) hold
    none: they were scored by the rules the first version was loaded from."""
    versions = _versions_by_id()
    if version_id is not None:
        version = versions.get(version_id) or db.session.get(InstrumentVersion, version_id)
        if version is not None:
            return version
    first = min(
        (v for v in versions.values() if v.code == code), key=lambda v: v.version, default=None
    )
    if first is None:
        raise LookupError(code)
    return first


def definition_for(code: str, version_id: int | None) -> Definition:
    return version_for_score(code, version_id).spec


def add_instrument_version(actor: User, data: dict[str, Any]) -> InstrumentVersion:
    """A new instrument, or the next version of one: checked whole, audited, never changed."""
    definition = parse_definition(data)
    latest = current_version(definition.code)
    version = InstrumentVersion(
        code=definition.code,
        version=1 if latest is None else latest.version + 1,
        name=definition.name,
        definition=data,
        created_by_id=actor.id,
    )
    db.session.add(version)
    db.session.flush()
    record_audit_event(
        actor_id=actor.id,
        action="instrument_version_added",
        entity="instrument_version",
        entity_id=version.id,
        changes={"code": version.code, "version": version.version, "name": version.name},
    )
    return version
