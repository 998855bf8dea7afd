"""The order forms: write and sign (or supersede) an order, discontinue one. Blank when shown:
an order is written, never copied from another."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, Regexp

from clinic.administration_terms import Method, Route
from clinic.clinical_numbers import ClinicalDecimalField
from clinic.form_choices import as_choices
from clinic.orders.models import OrderKind
from clinic.orders.services import OrderDetails
from clinic.submissions import OneTimeKey, SubmissionKey

DOSE_UNITS = ("mg", "mcg", "mL", "mg/kg", "device")


def _stripped(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def _whole_number(label: str) -> StringField:
    return StringField(
        label,
        validators=[Optional(), Regexp(r"^[0-9]{1,4}$", message="Enter a whole number.")],
        filters=[_stripped],
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )


class OrderForm(OneTimeKey, FlaskForm):
    kind = RadioField(
        "Kind of order",
        choices=as_choices([(k.value, k.label) for k in OrderKind]),
        validators=[InputRequired("Choose treatment or PRN.")],
    )
    drug = StringField(
        "Drug",
        validators=[DataRequired("Enter the drug."), Length(max=120)],
        filters=[_stripped],
        render_kw={"autocomplete": "off"},
    )
    concentration = StringField(
        "Concentration (optional)",
        validators=[Length(max=60)],
        filters=[_stripped],
        description="As on the vial or device, e.g. 10 mg/mL.",
        render_kw={"autocomplete": "off"},
    )
    dose_amount = ClinicalDecimalField(
        "Amount to give", validators=[InputRequired("Enter the amount to give.")]
    )
    dose_unit = SelectField(
        "Unit",
        choices=as_choices([("", "Choose…"), *((u, u) for u in DOSE_UNITS)]),
        validators=[DataRequired("Choose the unit.")],
    )
    route = SelectField(
        "Route",
        choices=as_choices([("", "Choose…"), *((r.value, r.label) for r in Route)]),
        validators=[DataRequired("Choose the route.")],
    )
    method = SelectField(
        "Method",
        choices=as_choices([("", "Choose…"), *((m.value, m.value.capitalize()) for m in Method)]),
        validators=[DataRequired("Choose the method.")],
    )
    rate_or_duration = StringField(
        "Rate or duration (optional)",
        validators=[Length(max=120)],
        filters=[_stripped],
        description="As you would write it, e.g. over 40 minutes.",
        render_kw={"autocomplete": "off"},
    )
    indication = StringField(
        "PRN: for",
        validators=[Length(max=200)],
        filters=[_stripped],
        description="What the PRN order is for, e.g. nausea, or SBP ≥ 180.",
        render_kw={"autocomplete": "off"},
    )
    min_interval_minutes = _whole_number("PRN: at least (minutes) between doses")
    max_doses_per_session = _whole_number("PRN: at most (doses) a session")
    note = TextAreaField(
        "Note (optional)",
        validators=[Length(max=2000)],
        description="Your reasoning, e.g. the weight the amount was worked out for.",
        render_kw={"rows": 2},
    )
    password = PasswordField(
        "Your password, to sign",
        validators=[DataRequired("Enter your password to sign the order.")],
        render_kw={"autocomplete": "current-password"},
    )

    def submission(self) -> SubmissionKey | None:
        """The one-time key's fingerprint leaves the password out: it is stored."""
        typed = self.password.raw_data
        self.password.raw_data = []
        try:
            return super().submission()
        finally:
            self.password.raw_data = typed

    def to_details(self) -> OrderDetails:
        return OrderDetails(
            kind=OrderKind(self.kind.data),
            drug=self.drug.data or "",
            dose_amount=self.dose_amount.data,
            dose_unit=self.dose_unit.data or "",
            route=Route(self.route.data),
            method=Method(self.method.data),
            concentration=self.concentration.data or "",
            rate_or_duration=self.rate_or_duration.data or "",
            indication=self.indication.data or "",
            min_interval_minutes=_number(self.min_interval_minutes.data),
            max_doses_per_session=_number(self.max_doses_per_session.data),
            note=self.note.data or "",
        )


def _number(text: str | None) -> int | None:
    return int(text) if text else None


class DiscontinueOrderForm(FlaskForm):
    reason = TextAreaField(
        "Why the order is discontinued",
        validators=[DataRequired("Say why the order is discontinued."), Length(max=1000)],
        filters=[_stripped],
        render_kw={"rows": 2},
    )
