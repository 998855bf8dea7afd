"""The record refuses an implausible vital sign whichever way it comes in, not only from the form.

The chart's form fences MOAA/S and pain with its choices, so posting the form cannot show that
the service holds those limits; these tests call the service that records a monitoring entry
with each field on, and one step past, both of its limits. The limits are written out here from
DESIGN.md §3 and REFERENCE.md ("Vital signs", "Scales"), not read from `vitals.PLAUSIBLE`.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from clinic.auth.models import Role
from clinic.extensions import db
from clinic.sessions.entries import ChartError
from clinic.sessions.models import MonitoringEntry, Phase
from clinic.sessions.services.monitoring import MonitoringDetails, record_monitoring
from clinic.sessions.vitals import PLAUSIBLE
from tests.factories import make_patient, open_session_for
from tests.helpers import audit_actions

# field -> (lowest, highest) plausible, inclusive, and the step of its unit.
LIMITS: dict[str, tuple[Any, Any, Any]] = {
    "systolic_bp": (40, 300, 1),
    "diastolic_bp": (20, 200, 1),
    "heart_rate": (20, 250, 1),
    "spo2": (50, 100, 1),
    "respiratory_rate": (2, 60, 1),
    "temperature_c": (Decimal("30.0"), Decimal("45.0"), Decimal("0.1")),
    "sedation_moaas": (0, 5, 1),  # MOAA/S 0 (no response) to 5 (responds readily)
    "pain_nrs": (0, 10, 1),  # NRS 0 (no pain) to 10 (worst imaginable)
}
# What the refusal says, with the limits as the person reads them.
MESSAGE = {
    "systolic_bp": "from 40 to 300",
    "diastolic_bp": "from 20 to 200",
    "heart_rate": "from 20 to 250",
    "spo2": "from 50 to 100",
    "respiratory_rate": "from 2 to 60",
    "temperature_c": "from 30 to 45",
    "sedation_moaas": "from 0 to 5",
    "pain_nrs": "from 0 to 10",
}
INSIDE = [
    pytest.param(name, value, id=f"{name}={value}")
    for name, (low, high, _) in LIMITS.items()
    for value in (low, high)
]
OUTSIDE = [
    pytest.param(name, value, id=f"{name}={value}")
    for name, (low, high, step) in LIMITS.items()
    for value in (low - step, high + step)
]


@pytest.fixture
def chart(make_user: Any) -> dict[str, Any]:
    nurse = make_user(Role.NURSE)
    infusion_session = open_session_for(make_patient(), nurse, make_user(Role.CLINICIAN))
    return {"nurse": nurse, "session": infusion_session}


def record(chart: dict[str, Any], **values: Any) -> Any:
    details = MonitoringDetails(
        phase=Phase.DURING,
        occurred_at=chart["session"].started_at + timedelta(minutes=5),
        **values,
    )
    return record_monitoring(chart["nurse"], chart["session"].id, details, None)


def stored_entries() -> list[MonitoringEntry]:
    return list(db.session.scalars(sa.select(MonitoringEntry)))


def test_every_plausibility_limit_of_the_record_is_covered_here() -> None:
    """A new limit in vitals.PLAUSIBLE needs its boundaries written out above."""
    assert set(PLAUSIBLE) == set(LIMITS)


@pytest.mark.parametrize(("name", "value"), OUTSIDE)
def test_service_refuses_a_value_past_a_plausibility_limit_naming_the_field(
    chart: dict[str, Any], name: str, value: Any
) -> None:
    with pytest.raises(ChartError) as refused:
        record(chart, **{name: value})

    assert refused.value.field == name
    assert MESSAGE[name] in refused.value.message
    db.session.rollback()  # as the view does
    assert stored_entries() == []
    assert audit_actions("monitoring_recorded") == []


@pytest.mark.parametrize(("name", "value"), INSIDE)
def test_service_accepts_a_value_on_a_plausibility_limit(
    chart: dict[str, Any], name: str, value: Any
) -> None:
    saved = record(chart, **{name: value})
    db.session.commit()

    assert saved.created
    db.session.expire_all()
    [entry] = stored_entries()
    assert getattr(entry, name) == value
    assert len(audit_actions("monitoring_recorded")) == 1
