"""The screening's part of the chart (templates/sessions/_screening.html): what was recorded,
the go, warn or no-go the rules read from it and the baseline vitals, the override, and the
forms. Built from what the chart has already loaded."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from flask import current_app

from clinic.clinic_time import to_local
from clinic.sessions.forms.screening import NO, YES, ScreeningForm, ScreeningOverrideForm
from clinic.sessions.models import MonitoringEntry, Screening
from clinic.sessions.screening_rules import ScreeningResult, evaluate_screening

SCREENING_PREFIX = "screening"
OVERRIDE_PREFIX = "screening-override"


@dataclass
class ScreeningSection:
    screening: Screening | None
    result: ScreeningResult | None
    form: ScreeningForm | None
    override_form: ScreeningOverrideForm | None
    can_override: bool


def _local(moment: datetime | None) -> datetime | None:
    return None if moment is None else to_local(moment).replace(tzinfo=None)


def fresh_screening_form(screening: Screening | None) -> ScreeningForm:
    """A blank form, or the screening on record to correct (its version, to catch a race)."""
    form = ScreeningForm(formdata=None, prefix=SCREENING_PREFIX)
    if screening is None:
        form.version.data = ""
        return form
    form.version.data = str(screening.version)
    form.occurred_at.data = _local(screening.occurred_at)
    form.time_shown.data = ""  # a recorded time, kept unless corrected
    form.pregnancy.data = screening.pregnancy.value
    form.last_solid_food_at.data = _local(screening.last_solid_food_at)
    form.last_clear_fluid_at.data = _local(screening.last_clear_fluid_at)
    form.concomitant_medicines.data = list(screening.concomitant_medicines)
    for name in ("alcohol_or_drugs", "suicidality_positive", "escort_present"):
        getattr(form, name).data = YES if getattr(screening, name) else NO
    for name in ("new_problems", "escort_name", "escort_relationship", "escort_phone", "note"):
        getattr(form, name).data = getattr(screening, name)
    return form


def screening_section(
    screening: Screening | None,
    entries: Sequence[MonitoringEntry],
    t_zero: datetime | None,
    *,
    editable: bool,
    can_override: bool,
    shown_form: ScreeningForm | None,
    shown_override_form: ScreeningOverrideForm | None,
) -> ScreeningSection:
    result = (
        evaluate_screening(screening, entries, t_zero, current_app.config["SCREENING_RULES"])
        if screening is not None
        else None
    )
    needs_override = (
        editable
        and can_override
        and result is not None
        and result.no_go
        and screening is not None
        and not screening.override_reason
    )
    return ScreeningSection(
        screening=screening,
        result=result,
        form=(shown_form or fresh_screening_form(screening)) if editable else None,
        override_form=(
            shown_override_form or ScreeningOverrideForm(formdata=None, prefix=OVERRIDE_PREFIX)
            if needs_override
            else None
        ),
        can_override=can_override,
    )
