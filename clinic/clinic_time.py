"""Times are stored in UTC and shown, and entered, in the clinic's zone (CLINIC_TIMEZONE)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import current_app


def clinic_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["CLINIC_TIMEZONE"])


def to_local(value: datetime) -> datetime:
    return value.astimezone(clinic_zone())


def from_local(value: datetime) -> datetime:
    """A naive wall-clock time typed in the clinic, as an aware UTC datetime."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=clinic_zone())
    return value.astimezone(UTC)


def local_now() -> datetime:
    return datetime.now(clinic_zone())


def format_local(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return "" if value is None else to_local(value).strftime(fmt)
