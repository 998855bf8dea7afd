"""The pre-session screening, and a clinician's override of a no-go."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    HiddenField,
    RadioField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from clinic.form_choices import as_choices
from clinic.sessions.entry_time import (
    DATETIME_FORMAT,
    OneTimeForm,
    not_in_future,
    occurred_at_field,
)
from clinic.sessions.forms.fields import required_text, strip_text
from clinic.sessions.forms.times import ChartTimeField, twenty_four_hour
from clinic.sessions.models import ConcomitantMedicine, Pregnancy

YES, NO = "yes", "no"
YES_NO = as_choices([(YES, "Yes"), (NO, "No")])


def yes_no(label: str) -> RadioField:
    return RadioField(
        label, choices=YES_NO, validators=[InputRequired(message="Choose yes or no.")]
    )


class ScreeningForm(OneTimeForm):
    # The version of the screening the form showed ("" for none): a newer one means someone else
    # saved it meanwhile, and this save must not replace theirs unseen.
    version = HiddenField(validators=[Regexp(r"^\d{0,9}$")], render_kw={"autocomplete": "off"})
    occurred_at = twenty_four_hour(occurred_at_field("Screened at"))
    pregnancy = RadioField(
        "Pregnancy",
        choices=as_choices([(p.value, p.label) for p in Pregnancy]),
        validators=[InputRequired(message="Choose the pregnancy status.")],
    )
    last_solid_food_at = ChartTimeField(
        "Last solid food (optional)",
        format=DATETIME_FORMAT,
        validators=[Optional(), not_in_future],
    )
    last_clear_fluid_at = ChartTimeField(
        "Last clear fluid (optional)",
        format=DATETIME_FORMAT,
        validators=[Optional(), not_in_future],
    )
    concomitant_medicines = SelectMultipleField(
        "Taken today (sedating or raising blood pressure)",
        choices=as_choices([(m.value, m.label) for m in ConcomitantMedicine]),
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    alcohol_or_drugs = yes_no("Alcohol or drugs in the last 24 h")
    suicidality_positive = yes_no("Suicidality screen positive")
    new_problems = TextAreaField(
        "New medical problems (empty if none)",
        validators=[Length(max=2000)],
        filters=[strip_text],
        render_kw={"rows": 2},
    )
    escort_present = yes_no("Escort present")
    escort_name = StringField("Escort's name", validators=[Length(max=120)], filters=[strip_text])
    escort_relationship = StringField(
        "Relationship", validators=[Length(max=60)], filters=[strip_text]
    )
    escort_phone = StringField("Escort's phone", validators=[Length(max=40)], filters=[strip_text])
    note = StringField("Note", validators=[Length(max=500)], filters=[strip_text])

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        if self.escort_present.data == YES and not self.escort_name.data:
            self.escort_name.errors.append("Enter the escort's name.")
            valid = False
        return valid


class ScreeningOverrideForm(FlaskForm):
    override_reason = required_text(
        "Clinician's override: reason for going ahead", "Give the reason for going ahead."
    )
