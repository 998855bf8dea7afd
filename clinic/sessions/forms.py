"""Forms of the chart: opening a session, administrations, infusion events, monitoring, ending.

Numbers a clinician types are parsed from text by strict patterns, never through float and never
through `Decimal(text)` alone (which accepts "NaN", "Infinity", "1e3" and "-0"). Every create
form carries a one-time `submission_key`, so a double tap or a retry stores one entry.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from wtforms import (
    BooleanField,
    DateTimeLocalField,
    Field,
    HiddenField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    Optional,
    Regexp,
    ValidationError,
)

from clinic.form_choices import as_choices
from clinic.patients.models import Indication
from clinic.sessions.entry_time import (
    DATETIME_FORMAT,
    EntryTimeForm,
    OneTimeForm,
    not_in_future,
    occurred_at_field,
)
from clinic.sessions.models import (
    Dissociation,
    InfusionEventKind,
    Method,
    Nausea,
    Phase,
    Route,
)
from clinic.sessions.vitals import implausibility

DEFAULT_DRUG = "Ketamine hydrochloride"
DOSE_UNITS = ("mg", "mcg", "mL", "mg/kg")
RATE_UNITS = ("mg/h", "mL/h", "mg/kg/h", "mcg/kg/min")

ROUTE_CHOICES = [(route.value, route.label) for route in Route]
METHOD_CHOICES = [(method.value, method.value.capitalize()) for method in Method]
INDICATION_CHOICES = [(indication.value, indication.label) for indication in Indication]
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
NOT_ASSESSED = ("", "Not assessed")
DISSOCIATION_CHOICES = [NOT_ASSESSED, *((d.value, d.value.capitalize()) for d in Dissociation)]
NAUSEA_CHOICES = [NOT_ASSESSED, *((n.value, n.value.capitalize()) for n in Nausea)]
PAIN_CHOICES = [NOT_ASSESSED, *((str(n), str(n)) for n in range(11))]
EVENT_CHOICES = [(kind.value, kind.label) for kind in InfusionEventKind]

_DECIMAL_TEXT = re.compile(r"^(?P<int>\d*)(?:\.(?P<frac>\d*))?$")
_INTEGER_TEXT = re.compile(r"^\d{1,4}$")


def parse_clinical_decimal(text: str, max_decimals: int, max_integer_digits: int) -> Decimal:
    """The positive decimal the clinician typed, exactly; ValueError with a message otherwise."""
    text = text.strip()
    match = _DECIMAL_TEXT.fullmatch(text)
    if not match or not (match["int"] or match["frac"]):
        raise ValueError("Enter a number with digits and at most one decimal point, e.g. 0.5.")
    frac = match["frac"] or ""
    if len(frac) > max_decimals:
        raise ValueError(f"At most {max_decimals} decimal places; nothing is rounded.")
    if len(match["int"].lstrip("0")) > max_integer_digits:
        raise ValueError("This number is too large.")
    value = Decimal(f"{match['int'] or '0'}.{frac or '0'}")
    if value <= 0:
        raise ValueError("Must be more than zero.")
    return value


class ClinicalDecimalField(StringField):
    """A positive decimal kept exactly as typed (`data` is a Decimal, or None when left blank).

    Refuses negatives, zero, exponents, NaN and Infinity, commas and more decimals than the
    column holds: a refused value is returned to the user, never rounded.
    """

    def __init__(
        self,
        label: str | None = None,
        validators: Any = None,
        max_decimals: int = 4,
        max_integer_digits: int = 10,
        **kwargs: Any,
    ) -> None:
        render_kw = {"inputmode": "decimal", "autocomplete": "off", **kwargs.pop("render_kw", {})}
        super().__init__(label, validators, render_kw=render_kw, **kwargs)
        self.max_decimals = max_decimals
        self.max_integer_digits = max_integer_digits

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = None
        if not valuelist or not str(valuelist[0]).strip():
            return
        # A ValueError here becomes the field's message (WTForms process_errors).
        self.data = parse_clinical_decimal(
            str(valuelist[0]), self.max_decimals, self.max_integer_digits
        )

    def _value(self) -> str:
        # Re-show what was typed after a refusal, not a reformatted value.
        if self.raw_data:
            return str(self.raw_data[0])
        return "" if self.data is None else format(self.data, "f")


class VitalField(StringField):
    """A whole-number vital sign with its plausibility range (`data`: int or None)."""

    def __init__(self, label: str | None = None, validators: Any = None, **kwargs: Any) -> None:
        render_kw = {
            "inputmode": "numeric",
            "pattern": "[0-9]*",
            "autocomplete": "off",
            **kwargs.pop("render_kw", {}),
        }
        super().__init__(label, validators, render_kw=render_kw, **kwargs)

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = None
        if not valuelist or not str(valuelist[0]).strip():
            return
        text = str(valuelist[0]).strip()
        if not _INTEGER_TEXT.fullmatch(text):
            raise ValueError("Enter a whole number.")
        self.data = int(text)

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        return "" if self.data is None else str(self.data)

    def post_validate(self, form: Any, validation_stopped: bool) -> None:
        if not self.errors:
            message = implausibility(self.short_name, self.data)
            if message:
                self.errors.append(message)


def optional_int(value: Any) -> int | None:
    return None if value in (None, "", "None") else int(value)


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
    started_at = occurred_at_field("Start time")
    consent_on_file = BooleanField("Consent on file")
    fasting_confirmed = BooleanField("Fasting (NPO) confirmed")
    weight_kg = ClinicalDecimalField(
        "Weight (kg)",
        validators=[Optional()],
        max_decimals=2,
        max_integer_digits=3,
        description="As measured or stated today.",
    )


class AdministrationForm(OneTimeForm):
    """Everything as the clinician states it; no field is ever pre-filled with a figure."""

    drug = StringField("Drug", default=DEFAULT_DRUG, validators=[DataRequired(), Length(max=120)])
    route = SelectField("Route", choices=as_choices(ROUTE_CHOICES), validators=[DataRequired()])
    method = SelectField(
        "Method",
        choices=as_choices([("", "Choose…"), *METHOD_CHOICES]),
        validators=[DataRequired(message="Choose the method.")],
    )
    dose_amount = ClinicalDecimalField(
        "Dose", validators=[InputRequired(message="Enter the dose as ordered.")]
    )
    dose_unit = SelectField(
        "Dose unit",
        choices=as_choices([("", "Choose…"), *((u, u) for u in DOSE_UNITS)]),
        validators=[DataRequired(message="Choose the unit.")],
    )
    rate_amount = ClinicalDecimalField("Rate (optional)", validators=[Optional()])
    # No Optional() here: it would stop the chain before validate_rate_unit pairs it with a rate.
    rate_unit = SelectField(
        "Rate unit", choices=as_choices([("", "—"), *((u, u) for u in RATE_UNITS)])
    )
    started_at = occurred_at_field("Start")
    ended_at = DateTimeLocalField(
        "End (optional)", format=DATETIME_FORMAT, validators=[Optional(), not_in_future]
    )
    site = StringField("Site", validators=[Length(max=120)])
    lot_number = StringField("Lot number", validators=[Length(max=60)])
    ordering_clinician_id = SelectField("Ordering clinician (optional)", coerce=optional_int)
    note = TextAreaField("Note", validators=[Length(max=2000)])

    def validate_rate_unit(self, field: Field) -> None:
        if self.rate_amount.data is not None and not field.data:
            raise ValidationError("Choose the rate unit.")
        if field.data and self.rate_amount.data is None and not self.rate_amount.errors:
            raise ValidationError("Enter the rate, or leave the unit empty.")

    def validate_ended_at(self, field: Field) -> None:
        if field.data and self.started_at.data and field.data < self.started_at.data:
            raise ValidationError("The end is before the start.")


class InfusionEventForm(OneTimeForm):
    kind = SelectField("Event", choices=as_choices(EVENT_CHOICES), validators=[DataRequired()])
    occurred_at = occurred_at_field("Time")
    rate_amount = ClinicalDecimalField("New rate", validators=[Optional()])
    rate_unit = SelectField(
        "Rate unit",
        choices=as_choices([("", "—"), *((u, u) for u in RATE_UNITS)]),
        validators=[Optional()],
    )
    bolus_amount = ClinicalDecimalField("Bolus amount", validators=[Optional()])
    bolus_unit = SelectField(
        "Bolus unit",
        choices=as_choices([("", "—"), *((u, u) for u in DOSE_UNITS)]),
        validators=[Optional()],
    )
    note = StringField("Note", validators=[Length(max=500)])

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        kind = self.kind.data
        # Each kind carries exactly the figures it needs, as entered; the others stay empty so
        # a stray number is never recorded against the wrong event.
        wants_rate = kind == InfusionEventKind.RATE_CHANGED.value
        wants_bolus = kind == InfusionEventKind.BOLUS.value
        for amount, unit, wanted, what in (
            (self.rate_amount, self.rate_unit, wants_rate, "the new rate"),
            (self.bolus_amount, self.bolus_unit, wants_bolus, "the bolus amount"),
        ):
            if amount.errors:
                valid = False
                continue
            if wanted and amount.data is None:
                amount.errors.append(f"Enter {what}.")
                valid = False
            if wanted and not unit.data:
                unit.errors.append("Choose the unit.")
                valid = False
            if not wanted and (amount.data is not None or unit.data):
                amount.errors.append(f"Leave {what} empty for this kind of event.")
                valid = False
        return valid


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


class EndSessionForm(EntryTimeForm):
    # The session's version when the form was shown (optimistic locking of the header).
    version = HiddenField(
        validators=[
            InputRequired(message="Reload the chart: this form is out of date."),
            Regexp(r"^\d{1,9}$", message="Reload the chart: this form is out of date."),
        ]
    )
    discharged_at = occurred_at_field("Discharge time")
    discharged_with = StringField(
        "Left with (driver's name)",
        validators=[DataRequired(message="Enter who the patient left with."), Length(max=120)],
    )
