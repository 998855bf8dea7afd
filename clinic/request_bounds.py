"""Bounds on what a request may carry, checked in one place for every route and form.

A number or a text the database cannot hold must be refused where it comes in, with a status and a
message, not found out by the database as an overflow (a 500 on SQLite) or an error (PostgreSQL
refuses a NUL byte in text):

- ids in URLs: `<int:...>` matches what an integer column holds, so a larger id is a 404 like any
  other missing record;
- ids and page numbers in query strings: the same bound, read by `id_argument` and `page_number`;
- calendar dates typed into a form or a filter: `date_in_range`;
- text: no control characters in any text field of any form (`install_text_checks`), where
  WTForms reads them, so that every form, present and future, refuses them next to the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter, Map, ValidationError
from wtforms import StringField, TextAreaField
from wtforms.validators import StopValidation

# The largest id an INTEGER column holds on PostgreSQL (SQLite's hold more): every id of the
# clinic's tables is one, and PostgreSQL refuses a larger value as out of range, not as no row.
MAX_ID = 2**31 - 1
# A page past this is past every list the clinic keeps (the audit trail at 50 a page included).
MAX_PAGE = 1_000_000
# What a date in a form or filter may be: the clinic's records, and dates of birth, lie within.
DATE_MIN = date(1900, 1, 1)
DATE_MAX = date(2999, 12, 31)
DATE_RANGE_MESSAGE = f"Enter a date between {DATE_MIN.isoformat()} and {DATE_MAX.isoformat()}."


class BoundedIntConverter(IntegerConverter):
    """`<int:...>` up to MAX_ID: a larger number does not match the route (a 404)."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)

    def to_python(self, value: str) -> int:
        # Checked on the text first: Python refuses to read an int of over 4300 digits.
        if len(value) > len(str(MAX_ID)):
            raise ValidationError()
        return int(super().to_python(value))


def id_argument(args: Mapping[str, str], name: str) -> int | None:
    """The record id in the query string, or None when it is missing or could be no record's."""
    text = (args.get(name) or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > len(str(MAX_ID)):
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None


def page_number(args: Mapping[str, str], name: str = "page") -> int:
    """The page asked for: 1 unless a number is given; a page past MAX_PAGE is not found."""
    text = (args.get(name) or "").strip()
    if not text.isascii() or not text.isdigit():
        return 1
    if len(text) > len(str(MAX_PAGE)) or int(text) > MAX_PAGE:
        raise NotFound()
    return max(int(text), 1)


def date_in_range(form: Any, field: Any) -> None:
    """A WTForms validator: the date (or the date of a time) lies within DATE_MIN and DATE_MAX,
    so that arithmetic on it (the day after a filter's end, a local time in UTC) stays within what
    Python and the databases hold. Stops the field's other validators, which may do that
    arithmetic."""
    value = field.data
    if value is None:
        return
    day = value.date() if isinstance(value, datetime) else value
    if not DATE_MIN <= day <= DATE_MAX:
        raise StopValidation(DATE_RANGE_MESSAGE)


# --- text fields ----------------------------------------------------------------------------------

# Control characters (C0, DEL, C1), lone surrogates, and the bidirectional embedding, override and
# isolate controls, which make text display in another order than it is stored. A text area keeps
# tab and line breaks; a one-line field has no use for them.
_INVISIBLE = "\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_IN_TEXT_AREA = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f{_INVISIBLE}]")
_IN_ONE_LINE = re.compile(f"[\x00-\x1f{_INVISIBLE}]")
CONTROL_CHARACTER_MESSAGE = (
    "Remove the control character (an invisible character such as NUL or a line break where "
    "none belongs) from this field."
)


def control_character_in(text: str, multiline: bool) -> bool:
    return bool((_IN_TEXT_AREA if multiline else _IN_ONE_LINE).search(text))


def refuse_control_characters(field: StringField, form: Any) -> None:
    """`pre_validate` of every text field: what was typed holds no control character."""
    if field.errors:  # the value could not be read at all; that message says enough
        return
    multiline = isinstance(field, TextAreaField)
    for value in field.raw_data or ():
        if isinstance(value, str) and control_character_in(value, multiline):
            raise StopValidation(CONTROL_CHARACTER_MESSAGE)


def install_text_checks() -> None:
    """Make every text field (StringField and its kinds: text areas, passwords, hidden and search
    fields, the chart's number fields) refuse control characters before its own validators run.

    WTForms calls `pre_validate` on every field. Among the kinds of StringField only the CSRF
    token defines its own (it checks the token, which has no control character to give), so this
    is the one place, and a form added later is covered by it. Idempotent.
    """
    StringField.pre_validate = refuse_control_characters  # type: ignore[method-assign,assignment]
