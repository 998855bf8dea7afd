"""Fields and choices the chart's forms share.

Numbers a clinician types are parsed from text by strict patterns, never through float and never
through `Decimal(text)` alone (which accepts "NaN", "Infinity", "1e3" and "-0")."""

from __future__ import annotations

import re
from decimal import Decimal
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

from clinic.form_choices import as_choices
from clinic.sessions.models import (
    Route,
    ScoreTiming,
)
from clinic.sessions.vitals import implausibility

ROUTE_CHOICES = [(route.value, route.label) for route in Route]


NOT_ASSESSED = ("", "Not assessed")


DECIMAL_TEXT = re.compile(r"^(?P<int>\d*)(?:\.(?P<frac>\d*))?$")


INTEGER_TEXT = re.compile(r"^\d{1,4}$")


def parse_clinical_decimal(text: str, max_decimals: int, max_integer_digits: int) -> Decimal:
    """The positive decimal the clinician typed, exactly; ValueError with a message otherwise."""
    text = text.strip()
    match = DECIMAL_TEXT.fullmatch(text)
    if not match or not (match["int"] or match["frac"]):
        raise ValueError("Enter a number with digits and at most one decimal point, e.g. 0.5.")
    frac = match["frac"] or ""
    if len(frac) > max_decimals:
        raise ValueError(f"At most {max_decimals} decimal places; nothing is rounded.")
    if len(match["int"].lstrip("0")) > max_integer_digits:
        raise ValueError("This number is too large.")
    value = Decimal(f"{match['int'] or '0'}.{frac or '0'}")
    if value <= 0:
        raise ValueError("Must be more than zero.")
    return value


class ClinicalDecimalField(StringField):
    """A positive decimal kept exactly as typed (`data` is a Decimal, or None when left blank).

    Refuses negatives, zero, exponents, NaN and Infinity, commas and more decimals than the
    column holds: a refused value is returned to the user, never rounded.
    """

    def __init__(
        self,
        label: str | None = None,
        validators: Any = None,
        max_decimals: int = 4,
        max_integer_digits: int = 10,
        **kwargs: Any,
    ) -> None:
        render_kw = {"inputmode": "decimal", "autocomplete": "off", **kwargs.pop("render_kw", {})}
        super().__init__(label, validators, render_kw=render_kw, **kwargs)
        self.max_decimals = max_decimals
        self.max_integer_digits = max_integer_digits

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = None
        if not valuelist or not str(valuelist[0]).strip():
            return
        # A ValueError here becomes the field's message (WTForms process_errors).
        self.data = parse_clinical_decimal(
            str(valuelist[0]), self.max_decimals, self.max_integer_digits
        )

    def _value(self) -> str:
        # Re-show what was typed after a refusal, not a reformatted value.
        if self.raw_data:
            return str(self.raw_data[0])
        return "" if self.data is None else format(self.data, "f")


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
