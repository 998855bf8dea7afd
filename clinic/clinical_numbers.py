"""How a clinical number entered as a decimal is read, exactly, and written back, everywhere it
appears (the chart's entries and the orders alike)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from wtforms import StringField


def decimal_text(value: Decimal) -> str:
    """The number as entered: no padding zeros from the column's scale, no exponent.

    The database hands back Numeric(14, 4) values as e.g. 0.5000; the clinician typed 0.5. Written
    without a trailing zero ("5", not "5.0") and with a leading one ("0.5", not ".5"), as ISMP
    asks: "5.0" misread as 50 and ".5" misread as 5 are classic tenfold errors.
    """
    if not value.is_finite():
        raise ValueError("a clinical value must be a finite number")
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


DECIMAL_TEXT = re.compile(r"^(?P<int>\d*)(?:\.(?P<frac>\d*))?$")


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
