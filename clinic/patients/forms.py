from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    Field,
    HiddenField,
    SearchField,
    SelectField,
    StringField,
    TelField,
    TextAreaField,
    ValidationError,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional, Regexp

from clinic.clinic_time import local_now
from clinic.form_choices import as_choices
from clinic.patients.models import Indication, Sex
from clinic.patients.services import PatientData, date_of_birth_problem
from clinic.submissions import OneTimeKey

# Typed at a shared tablet: the browser must not remember and offer one patient's details to the
# next user, and names are not spell-checked or auto-capitalised into something else.
PHI_TEXT = {"autocomplete": "off", "spellcheck": "false"}
PHONE_PATTERN = r"^[0-9+()./ -]*$"


def _choices(enum_cls: Any, prompt: str) -> list[SelectChoice]:
    return as_choices([("", prompt)] + [(member.value, member.label) for member in enum_cls])


def _born_in_range(form: FlaskForm, field: Field) -> None:
    if field.data is not None:
        problem = date_of_birth_problem(field.data, local_now().date())
        if problem:
            raise ValidationError(problem)


class PatientForm(FlaskForm):
    mrn = StringField(
        "MRN",
        validators=[DataRequired("Enter the MRN."), Length(max=32)],
        description="Medical record number, unique to this patient.",
        render_kw={**PHI_TEXT, "autocapitalize": "characters"},
    )
    family_name = StringField(
        "Family name",
        validators=[DataRequired("Enter the family name."), Length(max=100)],
        render_kw={**PHI_TEXT, "autocapitalize": "words"},
    )
    given_name = StringField(
        "Given name",
        validators=[DataRequired("Enter the given name."), Length(max=100)],
        render_kw={**PHI_TEXT, "autocapitalize": "words"},
    )
    date_of_birth = DateField(
        "Date of birth",
        validators=[InputRequired("Enter the date of birth as a valid date."), _born_in_range],
        render_kw={"autocomplete": "off", "min": "1900-01-01"},
    )
    sex = SelectField(
        "Sex", choices=_choices(Sex, "Choose…"), validators=[DataRequired("Choose the sex.")]
    )
    allergies = TextAreaField(
        "Allergies",
        validators=[Length(max=2000)],
        description=(
            "Drugs and reactions as reported. Write “No known drug allergies” if the patient has "
            "none; leave empty only if not yet asked."
        ),
        render_kw={**PHI_TEXT, "rows": 2},
    )
    indication = SelectField(
        "Indication",
        choices=_choices(Indication, "Choose…"),
        validators=[DataRequired("Choose the indication.")],
    )
    emergency_contact_name = StringField(
        "Emergency contact name",
        validators=[Optional(), Length(max=120)],
        render_kw={**PHI_TEXT, "autocapitalize": "words"},
    )
    emergency_contact_phone = TelField(
        "Emergency contact phone",
        # No Optional() here: it would stop the chain before the name-needs-a-number check.
        validators=[
            Length(max=40),
            Regexp(PHONE_PATTERN, message="Use digits, spaces and + ( ) - . only."),
        ],
        render_kw={"autocomplete": "off", "inputmode": "tel"},
    )

    rems_patient_id = StringField(
        "REMS patient ID",
        description="Esketamine nasal spray: the ID the REMS programme gave the patient.",
        validators=[Optional(), Length(max=40)],
        render_kw={"autocomplete": "off"},
    )

    def validate_emergency_contact_phone(self, field: Field) -> None:
        # A name without a number cannot be called in an emergency.
        if (self.emergency_contact_name.data or "").strip() and not (field.data or "").strip():
            raise ValidationError("Give a phone number for the emergency contact.")

    def to_data(self) -> PatientData:
        return PatientData(
            mrn=self.mrn.data or "",
            family_name=self.family_name.data or "",
            given_name=self.given_name.data or "",
            date_of_birth=self.date_of_birth.data,
            sex=Sex(self.sex.data),
            allergies=self.allergies.data or "",
            indication=Indication(self.indication.data),
            emergency_contact_name=self.emergency_contact_name.data or "",
            emergency_contact_phone=self.emergency_contact_phone.data or "",
            rems_patient_id=self.rems_patient_id.data or "",
        )


class RegistrationForm(OneTimeKey, PatientForm):
    """A double tap on "Register" lands on the patient registered by the first, not on an
    "MRN taken" message that would read as a failed registration."""


class EditPatientForm(PatientForm):
    # The version the form was loaded at: a save against a newer row is refused (invariant 4).
    version = HiddenField(validators=[Regexp(r"^\d+$", message="Reload the page and try again.")])

    def set_version(self, version: int) -> None:
        """Rendered from raw_data when the form was posted, so replace both."""
        self.version.data = str(version)
        self.version.raw_data = [str(version)]


class SearchForm(FlaskForm):
    q = SearchField(
        "Name or MRN",
        validators=[Length(max=100)],
        render_kw={"autocomplete": "off", "spellcheck": "false", "placeholder": "e.g. Smith, Jo"},
    )
