"""PHQ-9 and pain scores."""

from __future__ import annotations

from wtforms import Field, RadioField
from wtforms.validators import (
    InputRequired,
    NumberRange,
)

from clinic.form_choices import as_choices
from clinic.sessions.entry_time import OneTimeForm, occurred_at_field
from clinic.sessions.forms.fields import timing_field
from clinic.sessions.forms.times import twenty_four_hour
from clinic.sessions.scoring import PAIN_MAX, PAIN_MIN, PHQ9_ANSWERS, PHQ9_ITEMS

PHQ9_CHOICES = [(value, f"{value} · {label}") for value, label in PHQ9_ANSWERS]
PAIN_CHOICES = [(value, str(value)) for value in range(PAIN_MIN, PAIN_MAX + 1)]


class Phq9Form(OneTimeForm):
    default_prefix = "phq9"
    timing = timing_field()
    occurred_at = twenty_four_hour(occurred_at_field())

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
    """Pain, charted in this one place (not in the vitals set): 0 to 10 in one tap."""

    default_prefix = "pain"
    timing = timing_field()
    occurred_at = twenty_four_hour(occurred_at_field())
    # Checked by its range, not as a choice: a number outside it gets the scale's own message.
    score = RadioField(
        "Pain (0 no pain to 10 worst imaginable)",
        choices=as_choices(PAIN_CHOICES),
        coerce=int,
        validate_choice=False,
        validators=[
            InputRequired(message="Enter the pain score, 0 to 10."),
            NumberRange(
                min=PAIN_MIN,
                max=PAIN_MAX,
                message="Pain is scored 0 (no pain) to 10 (worst imaginable).",
            ),
        ],
    )
