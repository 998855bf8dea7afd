"""How a clinical number entered as a decimal is written back, everywhere it appears."""

from __future__ import annotations

from decimal import Decimal


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
