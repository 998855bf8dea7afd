"""The discharge readiness assessment: the modified Aldrete items, one tap each."""

from __future__ import annotations

from wtforms import RadioField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length

from clinic.form_choices import as_choices
from clinic.sessions.entry_time import OneTimeForm, occurred_at_field
from clinic.sessions.forms.fields import optional_int, strip_text
from clinic.sessions.forms.times import twenty_four_hour

# REFERENCE.md "Discharge: modified Aldrete score": 2 · 1 · 0 per item, as the nurse assesses.
ALDRETE_CHOICES = {
    "activity": ("Activity", ("moves 4 limbs", "moves 2 limbs", "moves none")),
    "respiration": (
        "Respiration",
        ("breathes deeply, coughs", "dyspnoea or limited", "apnoeic"),
    ),
    "circulation": (
        "Circulation (BP vs pre-dose)",
        ("within 20 %", "within 20-49 %", "50 % or more off"),
    ),
    "consciousness": ("Consciousness", ("fully awake", "arousable on calling", "not responding")),
    "spo2": ("SpO₂", ("> 92 % on room air", "needs O₂ to stay > 90 %", "< 90 % with O₂")),
}


def aldrete_field(name: str) -> RadioField:
    label, meanings = ALDRETE_CHOICES[name]
    return RadioField(
        label,
        choices=as_choices([(str(2 - i), f"{2 - i} · {m}") for i, m in enumerate(meanings)]),
        validators=[InputRequired(message="Choose 0, 1 or 2.")],
    )


class DischargeAssessmentForm(OneTimeForm):
    occurred_at = twenty_four_hour(occurred_at_field("Assessed at"))
    activity = aldrete_field("activity")
    respiration = aldrete_field("respiration")
    circulation = aldrete_field("circulation")
    consciousness = aldrete_field("consciousness")
    spo2 = aldrete_field("spo2")
    escort_confirmed = RadioField(
        "Escort from the screening present to take the patient home",
        choices=as_choices([("yes", "Confirmed"), ("no", "Not present")]),
        validators=[InputRequired(message="Confirm the escort, or say they are not present.")],
    )
    instruction_id = SelectField(
        "Instructions given",
        coerce=optional_int,
        validate_choice=False,
        validators=[DataRequired(message="Choose the instructions given.")],
    )
    note = StringField("Note", validators=[Length(max=500)], filters=[strip_text])
