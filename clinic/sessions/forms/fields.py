"""Fields and choices the chart's forms share.

Numbers a clinician types are parsed from text by strict patterns, never through float and never
through `Decimal(text)` alone (which accepts "NaN", "Infinity", "1e3" and "-0"): decimals by
clinic/clinical_numbers.py (orders take them too), whole numbers here."""

from __future__ import annotations

import re
from typing import Any

from wtforms import (
    RadioField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
)

from clinic.clinical_numbers import ClinicalDecimalField as ClinicalDecimalField
from clinic.form_choices import as_choices
from clinic.sessions.models import (
    Route,
    ScoreTiming,
)
from clinic.sessions.vitals import implausibility

ROUTE_CHOICES = [(route.value, route.label) for route in Route]


NOT_ASSESSED = ("", "Not assessed")


INTEGER_TEXT = re.compile(r"^\d{1,4}$")


class VitalField(StringField):
    """A whole-number vital sign with its plausibility range (`data`: int or None)."""

    def __init__(self, label: str | None = None, validators: Any = None, **kwargs: Any) -> None:
        render_kw = {
            "inputmode": "numeric",
            "pattern": "[0-9]*",
            "autocomplete": "off",
            **kwargs.pop("render_kw", {}),
        }
        super().__init__(label, validators, render_kw=render_kw, **kwargs)

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = None
        if not valuelist or not str(valuelist[0]).strip():
            return
        text = str(valuelist[0]).strip()
        if not INTEGER_TEXT.fullmatch(text):
            raise ValueError("Enter a whole number.")
        self.data = int(text)

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        return "" if self.data is None else str(self.data)

    def post_validate(self, form: Any, validation_stopped: bool) -> None:
        if not self.errors:
            message = implausibility(self.short_name, self.data)
            if message:
                self.errors.append(message)


def optional_int(value: Any) -> int | None:
    return None if value in (None, "", "None") else int(value)


TIMING_CHOICES = [
    (ScoreTiming.BEFORE.value, "Before the session"),
    (ScoreTiming.AFTER.value, "After the session"),
]


REASON_MAX = 1000


def required_text(label: str, message: str, max_length: int = REASON_MAX) -> TextAreaField:
    return TextAreaField(
        label,
        validators=[DataRequired(message=message), Length(max=max_length)],
        filters=[strip_text],
        render_kw={"rows": 2},
    )


def strip_text(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def timing_field() -> RadioField:
    return RadioField(
        "When",
        choices=as_choices(TIMING_CHOICES),
        validators=[InputRequired(message="Choose before or after the session.")],
    )
