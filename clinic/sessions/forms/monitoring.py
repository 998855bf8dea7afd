"""The quick vitals entry: one form for a set of vitals, scales and a note."""

from __future__ import annotations

from typing import Any

from wtforms import (
    Field,
    SelectField,
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
from clinic.sessions.models import (
    Dissociation,
    Nausea,
    Phase,
)
from clinic.sessions.vitals import implausibility

PHASE_CHOICES = [(phase.value, phase.value.capitalize()) for phase in Phase]


MOAAS_CHOICES = [
    ("", "Not assessed"),
    ("5", "5 · responds readily to name"),
    ("4", "4 · lethargic response to name"),
    ("3", "3 · responds only to loud or repeated name"),
    ("2", "2 · responds only to mild prodding"),
    ("1", "1 · responds only to trapezius squeeze"),
    ("0", "0 · no response"),
]


DISSOCIATION_CHOICES = [NOT_ASSESSED, *((d.value, d.value.capitalize()) for d in Dissociation)]


NAUSEA_CHOICES = [NOT_ASSESSED, *((n.value, n.value.capitalize()) for n in Nausea)]


PAIN_CHOICES = [NOT_ASSESSED, *((str(n), str(n)) for n in range(11))]


class MonitoringForm(OneTimeForm):
    """Quick entry at the chair: the most used fields first, numeric keyboards."""

    systolic_bp = VitalField("BP systolic")
    diastolic_bp = VitalField("BP diastolic")
    heart_rate = VitalField("HR /min")
    spo2 = VitalField("SpO₂ %")
    respiratory_rate = VitalField("RR /min")
    sedation_moaas = SelectField("Sedation (MOAA/S)", choices=as_choices(MOAAS_CHOICES), default="")
    dissociation = SelectField("Dissociation", choices=as_choices(DISSOCIATION_CHOICES), default="")
    nausea = SelectField("Nausea", choices=as_choices(NAUSEA_CHOICES), default="")
    pain_nrs = SelectField("Pain 0-10", choices=as_choices(PAIN_CHOICES), default="")
    temperature_c = ClinicalDecimalField(
        "Temp °C", validators=[Optional()], max_decimals=1, max_integer_digits=2
    )
    phase = SelectField("Phase", choices=as_choices(PHASE_CHOICES), validators=[DataRequired()])
    occurred_at = occurred_at_field("Time")
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
            self.pain_nrs.raw_data,
            self.note.raw_data,
        ]
        if not any(raw and str(raw[0]).strip() for raw in values):
            self.form_errors.append("Enter at least one value or a note.")
            valid = False
        return valid
