"""The quick vitals entry: one form for a set of vitals, scales and a note.

The scales are radio groups drawn as one-tap buttons (templates/macros/forms.html, `segmented`),
posting the values the drop-downs posted before. Pain is not part of the set: it is charted once,
as the pain score before and after the session (forms/scores.py), which the patient's history,
trends and exports read; the monitoring entry's `pain_nrs` column keeps what earlier sets stored.
"""

from __future__ import annotations

from typing import Any

from wtforms import (
    Field,
    RadioField,
    StringField,
)
from wtforms.validators import (
    DataRequired,
    Length,
    Optional,
    ValidationError,
)

from clinic.form_choices import as_choices
from clinic.sessions.entry_time import (
    OneTimeForm,
    occurred_at_field,
)
from clinic.sessions.forms.fields import NOT_ASSESSED, ClinicalDecimalField, VitalField
from clinic.sessions.forms.times import twenty_four_hour
from clinic.sessions.models import (
    Dissociation,
    Nausea,
    Phase,
)
from clinic.sessions.vitals import implausibility

PHASE_CHOICES = [(phase.value, phase.value.capitalize()) for phase in Phase]


# "score · what the patient responds to", shortened to fit a button at the chair.
MOAAS_CHOICES = [
    NOT_ASSESSED,
    ("5", "5 · readily to name"),
    ("4", "4 · lethargic to name"),
    ("3", "3 · loud or repeated name"),
    ("2", "2 · mild prodding"),
    ("1", "1 · trapezius squeeze"),
    ("0", "0 · no response"),
]


DISSOCIATION_CHOICES = [NOT_ASSESSED, *((d.value, d.value.capitalize()) for d in Dissociation)]


NAUSEA_CHOICES = [NOT_ASSESSED, *((n.value, n.value.capitalize()) for n in Nausea)]


class MonitoringForm(OneTimeForm):
    """Quick entry at the chair: the most used fields first, numeric keyboards."""

    systolic_bp = VitalField("BP systolic")
    diastolic_bp = VitalField("BP diastolic")
    heart_rate = VitalField("HR /min")
    spo2 = VitalField("SpO₂ %")
    respiratory_rate = VitalField("RR /min")
    sedation_moaas = RadioField("Sedation (MOAA/S)", choices=as_choices(MOAAS_CHOICES), default="")
    dissociation = RadioField("Dissociation", choices=as_choices(DISSOCIATION_CHOICES), default="")
    nausea = RadioField("Nausea", choices=as_choices(NAUSEA_CHOICES), default="")
    temperature_c = ClinicalDecimalField(
        "Temp °C", validators=[Optional()], max_decimals=1, max_integer_digits=2
    )
    phase = RadioField("Phase", choices=as_choices(PHASE_CHOICES), validators=[DataRequired()])
    occurred_at = twenty_four_hour(occurred_at_field("Time"))
    note = StringField("Note", validators=[Length(max=2000)])

    def validate_temperature_c(self, field: Field) -> None:
        message = implausibility("temperature_c", field.data)
        if message:
            raise ValidationError(message)

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        # Checked after each value's own range, so an implausible number gets that message.
        diastolic, systolic = self.diastolic_bp.data, self.systolic_bp.data
        if (
            not self.diastolic_bp.errors
            and not self.systolic_bp.errors
            and diastolic is not None
            and systolic is not None
            and diastolic >= systolic
        ):
            self.diastolic_bp.errors.append("Diastolic must be below systolic.")
            valid = False
        values = [
            self.systolic_bp.raw_data,
            self.diastolic_bp.raw_data,
            self.heart_rate.raw_data,
            self.spo2.raw_data,
            self.respiratory_rate.raw_data,
            self.temperature_c.raw_data,
            self.sedation_moaas.raw_data,
            self.dissociation.raw_data,
            self.nausea.raw_data,
            self.note.raw_data,
        ]
        if not any(raw and str(raw[0]).strip() for raw in values):
            self.form_errors.append("Enter at least one value or a note.")
            valid = False
        return valid
