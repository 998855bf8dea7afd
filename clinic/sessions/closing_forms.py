"""Forms of the chart's closing part: scores, checklist, cancel, void, sign-off, addenda.

Create forms carry a one-time `submission_key` (the same field name as the chart's other forms),
so a double tap or a retry after a timeout stores one entry.
"""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    Field,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
)

from clinic.form_choices import as_choices
from clinic.sessions.entry_time import OneTimeForm, occurred_at_field
from clinic.sessions.models import ChecklistItem, ScoreTiming
from clinic.sessions.scoring import PAIN_MAX, PAIN_MIN, PHQ9_ANSWERS, PHQ9_ITEMS

TIMING_CHOICES = [
    (ScoreTiming.BEFORE.value, "Before the session"),
    (ScoreTiming.AFTER.value, "After the session"),
]
PHQ9_CHOICES = [(value, f"{value} · {label}") for value, label in PHQ9_ANSWERS]
DONE, NOT_DONE = "done", "not_done"
REASON_MAX = 1000


def _required_text(label: str, message: str, max_length: int = REASON_MAX) -> TextAreaField:
    return TextAreaField(
        label,
        validators=[DataRequired(message=message), Length(max=max_length)],
        filters=[_strip],
        render_kw={"rows": 2},
    )


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def _timing_field() -> RadioField:
    return RadioField(
        "When",
        choices=as_choices(TIMING_CHOICES),
        validators=[InputRequired(message="Choose before or after the session.")],
    )


class Phq9Form(OneTimeForm):
    default_prefix = "phq9"
    timing = _timing_field()
    occurred_at = occurred_at_field()

    @property
    def item_fields(self) -> list[Field]:
        return [getattr(self, f"item{number}") for number in range(1, len(PHQ9_ITEMS) + 1)]

    @property
    def answers(self) -> list[int]:
        return [int(field.data) for field in self.item_fields]


# The nine items as RadioFields item1..item9, labelled with their published texts.
for _number, _text in enumerate(PHQ9_ITEMS, start=1):
    setattr(
        Phq9Form,
        f"item{_number}",
        RadioField(
            f"{_number}. {_text}",
            choices=as_choices(PHQ9_CHOICES),
            coerce=int,
            validators=[InputRequired(message="Answer this item (0 to 3).")],
        ),
    )


class PainForm(OneTimeForm):
    default_prefix = "pain"
    timing = _timing_field()
    occurred_at = occurred_at_field()
    score = IntegerField(
        "Pain (0 no pain to 10 worst imaginable)",
        validators=[
            InputRequired(message="Enter the pain score, 0 to 10."),
            NumberRange(
                min=PAIN_MIN,
                max=PAIN_MAX,
                message="Pain is scored 0 (no pain) to 10 (worst imaginable).",
            ),
        ],
        render_kw={"inputmode": "numeric", "min": PAIN_MIN, "max": PAIN_MAX, "autocomplete": "off"},
    )


class ChecklistForm(OneTimeForm):
    """One item's completion. Pass `item=` so the driver's-name rule knows its label."""

    status = RadioField(
        "Status",
        choices=as_choices([(DONE, "Done"), (NOT_DONE, "Not done")]),
        validators=[InputRequired(message="Choose done or not done.")],
    )
    detail = StringField("Detail", validators=[Optional(), Length(max=200)], filters=[_strip])
    not_done_reason = TextAreaField(
        "Reason if not done",
        validators=[Length(max=REASON_MAX)],
        filters=[_strip],
        render_kw={"rows": 2},
    )
    note = StringField("Note", validators=[Length(max=500)], filters=[_strip])
    # The completion the person saw as current ("" for none): a newer one means someone else
    # recorded this item meanwhile, and this save must not replace theirs unseen.
    shown_state = HiddenField(validators=[Regexp(r"^\d*$")], render_kw={"autocomplete": "off"})

    def __init__(self, *args: Any, item: ChecklistItem, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", f"checklist-{item.id}")
        super().__init__(*args, **kwargs)
        self.item = item
        if item.detail_label:
            self.detail.label.text = item.detail_label

    @property
    def done(self) -> bool:
        return self.status.data == DONE

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        if self.status.data == NOT_DONE and not self.not_done_reason.data:
            self.not_done_reason.errors.append("Give the reason it was not done.")
            valid = False
        if self.status.data == DONE and self.item.detail_label and not self.detail.data:
            self.detail.errors.append(f"Enter the {self.item.detail_label.lower()}.")
            valid = False
        return valid


class CancelForm(FlaskForm):
    cancel_reason = _required_text("Reason for cancelling", "Give the reason for cancelling.")


class VoidForm(FlaskForm):
    reason = TextAreaField(
        "Reason for voiding",
        validators=[DataRequired(message="Give the reason for voiding."), Length(max=REASON_MAX)],
        filters=[_strip],
        render_kw={"rows": 2},
    )


class SignForm(FlaskForm):
    password = PasswordField(
        "Your password",
        validators=[InputRequired(message="Re-enter your password to sign."), Length(max=128)],
        description="Signing locks the record; later corrections go in an addendum.",
        render_kw={"autocomplete": "current-password"},
    )


class AddendumForm(OneTimeForm):
    default_prefix = "addendum"
    text = _required_text("Addendum", "Write the addendum.", max_length=5000)
    reason = _required_text("Reason", "Give the reason for the addendum.")
