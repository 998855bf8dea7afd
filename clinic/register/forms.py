"""The register's forms, and the fields an administration of a controlled drug adds to the chart's
form. Blank when shown: quantities are entered, never proposed."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from clinic.auth.models import CLINICAL_ROLES, User
from clinic.clinic_time import local_now
from clinic.clinical_numbers import ClinicalDecimalField, decimal_text
from clinic.extensions import db
from clinic.form_choices import as_choices
from clinic.register.models import LotForm
from clinic.register.services import DrawDetails, LotDetails, Witness, open_lots
from clinic.request_bounds import date_in_range
from clinic.submissions import OneTimeKey, SubmissionKey

PASSWORD_FIELDS = ("witness_password", "waste_witness_password")


def _stripped(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def _today() -> date:
    return local_now().date()


def optional_id(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def witness_choices() -> list[SelectChoice]:
    """The active nurses and clinicians, by name: who may witness or count."""
    people = db.session.scalars(
        sa.select(User)
        .where(User.active.is_(True), User.role.in_(CLINICAL_ROLES))
        .order_by(sa.func.lower(User.full_name))
    )
    return as_choices([("", "Choose…"), *((person.id, person.display_name) for person in people)])


def lot_choices() -> list[SelectChoice]:
    """The lots with stock, each with its balance by the ledger, for reading."""
    return as_choices(
        [("", "None: not a register drug")]
        + [
            (
                lot.id,
                f"{lot.description} (exp. {lot.expires_on.isoformat()}), "
                f"{decimal_text(on_shelf)} {lot.unit} left",
            )
            for lot, on_shelf in open_lots()
        ]
    )


def _quantity(label: str, required: bool = True, **kwargs: Any) -> ClinicalDecimalField:
    validators = [InputRequired("Enter the quantity.")] if required else [Optional()]
    return ClinicalDecimalField(label, validators=validators, **kwargs)


def _witness_select(label: str) -> SelectField:
    return SelectField(label, coerce=optional_id, choices=witness_choices, validate_choice=False)


def _password(label: str) -> PasswordField:
    return PasswordField(label, render_kw={"autocomplete": "off"})


class WithoutPasswords:
    """A one-time key's fingerprint is stored: it leaves any password typed on the form out."""

    def submission(self) -> SubmissionKey | None:
        typed = {}
        for name in PASSWORD_FIELDS:
            field = getattr(self, name, None)
            if field is not None:
                typed[name] = field.raw_data
                field.raw_data = []
        try:
            return super().submission()  # type: ignore[misc]
        finally:
            for name, raw in typed.items():
                getattr(self, name).raw_data = raw


class RegisterDrawFields(WithoutPasswords):
    """What an administration of a controlled drug adds: the lot, drawn, given and wasted in the
    lot's unit as entered, and the witness of any waste with their password."""

    lot_id = SelectField(
        "Register lot (controlled drugs)",
        coerce=optional_id,
        choices=lot_choices,
        validate_choice=False,
        description="The lot the drug was drawn from; the register records the draw.",
    )
    drawn = _quantity("Drawn (lot's unit)", required=False)
    given = _quantity("Given (lot's unit)", required=False)
    wasted = _quantity("Wasted (lot's unit)", required=False)
    waste_witness_id = _witness_select("Witness of the waste")
    waste_witness_password = _password("Witness's password")

    def draw_details(self) -> DrawDetails:
        return DrawDetails(
            lot_id=self.lot_id.data,
            drawn=self.drawn.data,
            given=self.given.data,
            wasted=self.wasted.data,
            witness=Witness(
                self.waste_witness_id.data,
                self.waste_witness_password.data or "",
                "waste_witness_id",
                "waste_witness_password",
            ),
        )


class WitnessFields(WithoutPasswords):
    witness_id = _witness_select("Witness")
    witness_password = _password("Witness's own password")

    def witness(self) -> Witness:
        return Witness(self.witness_id.data, self.witness_password.data or "")


class ReceiveLotForm(WitnessFields, OneTimeKey, FlaskForm):
    drug = SelectField("Drug", validators=[DataRequired("Choose the drug.")])
    strength = StringField(
        "Strength or concentration",
        validators=[DataRequired("Enter the strength."), Length(max=60)],
        filters=[_stripped],
        description="As on the label, e.g. 50 mg/mL, or 28 mg per device.",
    )
    form = RadioField(
        "Form",
        choices=as_choices([(f.value, f.label) for f in LotForm]),
        validators=[InputRequired("Choose the form.")],
    )
    container_ml = _quantity("Vial size, mL (vials)", required=False)
    ndc = StringField(
        "NDC", validators=[DataRequired("Enter the NDC."), Length(max=20)], filters=[_stripped]
    )
    lot_number = StringField(
        "Lot number",
        validators=[DataRequired("Enter the lot number."), Length(max=60)],
        filters=[_stripped],
    )
    expires_on = DateField(
        "Expiry", validators=[InputRequired("Enter the expiry date."), date_in_range]
    )
    supplier = StringField(
        "Supplier",
        validators=[DataRequired("Enter the supplier."), Length(max=120)],
        filters=[_stripped],
    )
    invoice = StringField(
        "Invoice",
        validators=[DataRequired("Enter the invoice number."), Length(max=60)],
        filters=[_stripped],
    )
    received_on = DateField(
        "Received on",
        default=_today,
        validators=[InputRequired("Enter the date."), date_in_range],
    )
    quantity = _quantity(
        "Quantity received (mL for vials, devices for nasal sprays)",
        description="The total: e.g. ten 10 mL vials are 100 mL.",
    )

    def to_details(self) -> LotDetails:
        return LotDetails(
            drug=self.drug.data or "",
            strength=self.strength.data or "",
            form=LotForm(self.form.data),
            container_ml=self.container_ml.data,
            ndc=self.ndc.data or "",
            lot_number=self.lot_number.data or "",
            expires_on=self.expires_on.data,
            supplier=self.supplier.data or "",
            invoice=self.invoice.data or "",
            received_on=self.received_on.data,
            quantity=self.quantity.data,
        )


MOVEMENT_KINDS = (("waste", "Wasted"), ("return", "Returned to the supplier"))


class MovementForm(WitnessFields, OneTimeKey, FlaskForm):
    """Waste (witnessed) or a return of stock not drawn for an administration."""

    kind = RadioField(
        "What happened",
        choices=as_choices(MOVEMENT_KINDS),
        validators=[InputRequired("Choose waste or return.")],
    )
    quantity = _quantity("Quantity (the lot's unit)")
    reason = TextAreaField(
        "Reason", validators=[Length(max=1000)], filters=[_stripped], render_kw={"rows": 2}
    )


class CorrectionForm(WitnessFields, OneTimeKey, FlaskForm):
    direction = RadioField(
        "Correction",
        choices=as_choices([("remove", "Less on the shelf"), ("add", "More on the shelf")]),
        validators=[InputRequired("Choose less or more.")],
    )
    quantity = _quantity("Quantity (the lot's unit)")
    reason = TextAreaField(
        "Reason",
        validators=[DataRequired("Give the reason."), Length(max=1000)],
        filters=[_stripped],
        render_kw={"rows": 2},
    )


class CountForm(WitnessFields, OneTimeKey, FlaskForm):
    counted = _quantity("Counted on the shelf (the lot's unit)", required=True)
    witness_id = _witness_select("Second person counting")
    witness_password = _password("Second person's own password")


class ResolveCountForm(WitnessFields, FlaskForm):
    outcome = RadioField(
        "Resolution",
        choices=as_choices(
            [
                ("count_wrong", "The count was wrong: the register stands"),
                ("correct", "The shelf is right: correct the register to the count"),
            ]
        ),
        validators=[InputRequired("Choose how the discrepancy is resolved.")],
    )
    reason = TextAreaField(
        "Reason",
        validators=[DataRequired("Give the reason."), Length(max=1000)],
        filters=[_stripped],
        render_kw={"rows": 2},
    )
    witness_id = _witness_select("Witness (for a correction)")


class VoidEntryForm(FlaskForm):
    reason = TextAreaField(
        "Reason for the void",
        validators=[DataRequired("Give the reason for the void."), Length(max=1000)],
        filters=[_stripped],
        render_kw={"rows": 2},
    )


class ReportForm(FlaskForm):
    """A report's date range (GET: no CSRF, nothing is written)."""

    class Meta:
        csrf = False

    start = DateField("From", validators=[Optional(), date_in_range])
    end = DateField("To", validators=[Optional(), date_in_range])
    on = DateField("Inventory at the end of", validators=[Optional(), date_in_range])
