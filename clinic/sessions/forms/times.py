"""A charted time as the chart shows it: the date, and the time as a 24-hour "HH:MM".

A `datetime-local` input is drawn in the device's locale (12-hour with AM/PM on a US tablet,
beside a 24-hour flowsheet) and cut short in a narrow column. `ChartTimeField` is drawn as two
inputs instead (templates/macros/forms.html, `time_control`): the date (`<name>-date`, a date
picker) and the time (`<name>`, typed; "1405" and "14.05" are taken too, since a numeric keypad
may have no colon). It still reads the single "YYYY-MM-DDTHH:MM" a script or an older page posts.

Once read, `raw_data` holds the combined "YYYY-MM-DDTHH:MM", so clinic/sessions/entry_time.py
compares it with the time the form showed exactly as before.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from wtforms import DateTimeLocalField
from wtforms.fields.core import UnboundField
from wtforms.utils import unset_value

from clinic.clinic_time import local_now

TIME_TEXT = re.compile(r"^(?P<hour>[01]?\d|2[0-3])[:.h]?(?P<minute>[0-5]\d)$")
BAD_TIME = "Enter the date, and the time as HH:MM on the 24-hour clock (e.g. 14:05)."


class _Posted:
    """The one value this field reads, in the shape WTForms asks form data for."""

    def __init__(self, name: str, value: str) -> None:
        self.name, self.value = name, value

    def __contains__(self, key: object) -> bool:
        return key == self.name

    def getlist(self, key: str) -> list[str]:
        return [self.value] if key == self.name else []


def combined_text(date_text: str, time_text: str) -> str:
    """The date and the typed time as one "YYYY-MM-DDTHH:MM" ("" when both are empty)."""
    date_text, time_text = date_text.strip(), time_text.strip()
    if not date_text and not time_text:
        return ""
    match = TIME_TEXT.fullmatch(time_text)
    if match:
        time_text = f"{int(match['hour']):02d}:{match['minute']}"
    return f"{date_text}T{time_text}"


class ChartTimeField(DateTimeLocalField):
    """A date and a 24-hour time; `data` is a naive clinic-time datetime, as DateTimeLocalField."""

    typed: tuple[str, str] | None = None

    @property
    def date_name(self) -> str:
        return f"{self.name}-date"

    @property
    def date_id(self) -> str:
        return f"{self.id}-date"

    def process(
        self, formdata: Any, data: Any = unset_value, extra_filters: Sequence[Any] | None = None
    ) -> None:
        self.typed = None
        if formdata is not None and self.date_name in formdata:
            self.typed = (formdata.get(self.date_name, ""), formdata.get(self.name, ""))
            formdata = _Posted(self.name, combined_text(*self.typed))
        super().process(formdata, data, extra_filters)

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist:
            return
        if not str(valuelist[0]).strip():
            self.data = None  # left empty: InputRequired or Optional decides
            return
        try:
            super().process_formdata(valuelist)
        except ValueError as error:
            raise ValueError(BAD_TIME) from error

    @property
    def date_value(self) -> str:
        if self.typed is not None:
            return self.typed[0]
        return "" if self.data is None else self.data.strftime("%Y-%m-%d")

    @property
    def time_value(self) -> str:
        if self.typed is not None:
            return self.typed[1]
        return "" if self.data is None else self.data.strftime("%H:%M")

    @property
    def clinic_now(self) -> str:
        """The clinic's time as the page is drawn: where the page's Now control counts from."""
        return local_now().strftime("%Y-%m-%dT%H:%M")


def twenty_four_hour(unbound: UnboundField) -> UnboundField:
    """The same field (label, default, validators, attributes), drawn and read as ChartTimeField."""
    return UnboundField(ChartTimeField, *unbound.args, name=unbound.name, **unbound.kwargs)
