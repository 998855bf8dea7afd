"""Administrations and infusion events, as the clinician states them: no field is pre-filled
with a figure."""

from __future__ import annotations

from typing import Any

from wtforms import (
    Field,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    Optional,
    ValidationError,
)

from clinic.form_choices import as_choices
from clinic.register.forms import RegisterDrawFields
from clinic.sessions.entry_time import (
    DATETIME_FORMAT,
    OneTimeForm,
    not_in_future,
    occurred_at_field,
)
from clinic.sessions.forms.fields import ROUTE_CHOICES, ClinicalDecimalField, optional_int
from clinic.sessions.forms.times import ChartTimeField, twenty_four_hour
from clinic.sessions.models import (
    InfusionEventKind,
    Method,
)

DEFAULT_DRUG = "Ketamine hydrochloride"


DOSE_UNITS = ("mg", "mcg", "mL", "mg/kg")


RATE_UNITS = ("mg/h", "mL/h", "mg/kg/h", "mcg/kg/min")


METHOD_CHOICES = [(method.value, method.value.capitalize()) for method in Method]


EVENT_CHOICES = [(kind.value, kind.label) for kind in InfusionEventKind]


class AdministrationForm(RegisterDrawFields, OneTimeForm):
    """Everything as the clinician states it; no field is ever pre-filled with a figure, nor
    from the order carried out, which the chart shows beside the form for reading."""

    # Any order is taken here: the service refuses one not in force with its own message (a
    # choice list would only say "not a valid choice" for an order superseded meanwhile).
    order_id = SelectField(
        "Order carried out",
        coerce=optional_int,
        validate_choice=False,
        validators=[DataRequired(message="Choose the signed order you are carrying out.")],
    )

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
    started_at = twenty_four_hour(occurred_at_field("Start"))
    ended_at = ChartTimeField(
        "End (optional)", format=DATETIME_FORMAT, validators=[Optional(), not_in_future]
    )
    site = StringField("Site", validators=[Length(max=120)])
    lot_number = StringField("Lot number", validators=[Length(max=60)])
    concentration = StringField(
        "Concentration drawn from (optional)",
        validators=[Length(max=60)],
        description="As on the vial, e.g. 10 mg/mL.",
    )
    volume_ml = ClinicalDecimalField("Volume drawn, mL (optional)", validators=[Optional()])
    ordering_clinician_id = SelectField("Ordering clinician (optional)", coerce=optional_int)
    note = TextAreaField("Note", validators=[Length(max=2000)])
    # A rescue medicine (PRN order) names the adverse event it is given for.
    adverse_event_id = SelectField(
        "For adverse event (rescue medicine, optional)", coerce=optional_int, validate_choice=False
    )

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
    occurred_at = twenty_four_hour(occurred_at_field("Time"))
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
