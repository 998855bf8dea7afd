"""The form that opens a session."""

from __future__ import annotations

from wtforms import (
    BooleanField,
    SelectField,
)
from wtforms.validators import (
    DataRequired,
    Optional,
)

from clinic.form_choices import as_choices
from clinic.patients.models import Indication
from clinic.sessions.entry_time import (
    OneTimeForm,
    occurred_at_field,
)
from clinic.sessions.forms.fields import ROUTE_CHOICES, ClinicalDecimalField, optional_int
from clinic.sessions.forms.times import twenty_four_hour

INDICATION_CHOICES = [(indication.value, indication.label) for indication in Indication]


class OpenSessionForm(OneTimeForm):
    indication = SelectField(
        "Indication", choices=as_choices(INDICATION_CHOICES), validators=[DataRequired()]
    )
    route = SelectField(
        "Route of administration",
        choices=as_choices([("", "Choose…"), *ROUTE_CHOICES]),
        validators=[DataRequired(message="Choose the route.")],
    )
    attending_clinician_id = SelectField(
        "Attending clinician",
        coerce=optional_int,
        validators=[DataRequired(message="Choose the attending clinician.")],
    )
    nurse_id = SelectField(
        "Nurse", coerce=optional_int, validators=[DataRequired(message="Choose the nurse.")]
    )
    started_at = twenty_four_hour(occurred_at_field("Start time"))
    course_id = SelectField(
        "Treatment course",
        coerce=optional_int,
        validators=[DataRequired(message="Choose the treatment course.")],
    )
    fasting_confirmed = BooleanField("Fasting (NPO) confirmed")
    weight_kg = ClinicalDecimalField(
        "Weight (kg)",
        validators=[Optional()],
        max_decimals=2,
        max_integer_digits=3,
        description="As measured or stated today.",
    )
