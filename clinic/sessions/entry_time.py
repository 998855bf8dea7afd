"""When a charted thing happened: "now" unless the person corrected it.

A chart stays open at the chair for hours. A time field pre-filled when the page loaded would,
ten minutes later, save a time ten minutes old. So the form remembers the time it showed and
whether the person touched the field (static/js/entry-time.js sets `time_edited` to "false" when
it starts and to "true" on an edit); an untouched field means "now", taken when the post is
saved. Without JavaScript, a value equal to the one shown counts as untouched.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, Field, HiddenField
from wtforms.validators import InputRequired, Length, ValidationError

from clinic.clinic_time import from_local, local_now
from clinic.database import utcnow
from clinic.request_bounds import date_in_range
from clinic.submissions import OneTimeKey

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


def _local_now_minute() -> datetime:
    return local_now().replace(tzinfo=None, second=0, microsecond=0)


def _shown_now() -> str:
    return _local_now_minute().strftime(DATETIME_FORMAT)


def not_in_future(form: Any, field: Field) -> None:
    """The time has happened; a tablet clock a few minutes fast (ENTRY_MINUTES_AHEAD) is not an
    error. A date out of range is refused first: its conversion to UTC could overflow."""
    if field.data is None:
        return
    date_in_range(form, field)
    ahead = timedelta(minutes=current_app.config["ENTRY_MINUTES_AHEAD"])
    if from_local(field.data) > utcnow() + ahead:
        raise ValidationError("This time is in the future.")


def occurred_at_field(label: str = "Time") -> DateTimeLocalField:
    return DateTimeLocalField(
        label,
        format=DATETIME_FORMAT,
        default=_local_now_minute,
        validators=[InputRequired(message="Enter the time."), not_in_future],
        description="Clinic time; correct it if this happened earlier.",
        render_kw={"data-default-now": "true"},
    )


class EntryTimeForm(FlaskForm):
    """A form with a time field that means "now" until the person corrects it.

    `default_prefix` keeps field ids unique on the chart, where several forms share field names
    (a label for "timing-0" must tick the radio of its own form).
    """

    default_prefix = ""
    time_shown = HiddenField(default=_shown_now, validators=[Length(max=32)])
    time_edited = HiddenField(default="", validators=[Length(max=8)])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", self.default_prefix)
        super().__init__(*args, **kwargs)


class OneTimeForm(OneTimeKey, EntryTimeForm):
    """A chart's create form: a time that means "now" unless corrected, and a one-time key."""


def entered_time(form: EntryTimeForm, field: DateTimeLocalField) -> datetime:
    """The time to store for `field`, in UTC."""
    typed = field.raw_data[0] if field.raw_data else None
    # raw_data, not data: a post that did not carry the shown time (a script, a test) must not
    # fall back to the field's default and look untouched.
    shown = form.time_shown.raw_data[0] if form.time_shown.raw_data else None
    # "false": the page's script ran and the person did not touch the field. The script keeps
    # the shown time moving by wall-clock minutes, which is an hour off across a change to or
    # from summer time; the server's clock is not, so the value shown is not used.
    # An empty shown time marks a field showing a recorded time (a discharge being corrected),
    # never "now": what is in the field is kept.
    followed_by_script = form.time_edited.data == "false" and bool(shown)
    untouched = followed_by_script or (
        shown is not None and form.time_edited.data != "true" and typed == shown
    )
    if untouched:
        return utcnow()
    return from_local(field.data)
