"""The consent forms: record one, withdraw one."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from clinic.form_choices import as_choices
from clinic.patients.consents.models import ConsentType
from clinic.patients.consents.services import ConsentDetails
from clinic.request_bounds import date_in_range
from clinic.submissions import OneTimeKey


def _optional_int(value: Any) -> int | None:
    return None if value in (None, "", "None") else int(value)


def _stripped(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class ConsentForm(OneTimeKey, FlaskForm):
    consent_type_id = SelectField(
        "Consent for",
        coerce=_optional_int,
        validators=[DataRequired("Choose what the consent is for.")],
        description="The route and drug consented to: it covers the sessions by that route.",
    )
    document_title = StringField(
        "Document title",
        validators=[DataRequired("Enter the document's title."), Length(max=200)],
        filters=[_stripped],
        render_kw={"autocomplete": "off"},
    )
    document_version = StringField(
        "Document version",
        validators=[DataRequired("Enter the document's version."), Length(max=40)],
        filters=[_stripped],
        render_kw={"autocomplete": "off"},
    )
    signed_on = DateField(
        "Signed on",
        validators=[InputRequired("Enter the day the patient signed, as a date."), date_in_range],
    )
    witnessed_by = StringField(
        "Witnessed by",
        validators=[DataRequired("Enter who witnessed the signature."), Length(max=120)],
        filters=[_stripped],
        render_kw={"autocomplete": "off"},
    )
    valid_until = DateField(
        "Valid until",
        validators=[Optional(), date_in_range],
        description="The last day it covers, as the document states; empty if it does not expire.",
    )
    note = TextAreaField("Note", validators=[Length(max=2000)], render_kw={"rows": 2})

    def set_type_choices(self, types: list[ConsentType]) -> None:
        self.consent_type_id.choices = as_choices(
            [("", "Choose…")] + [(str(t.id), t.name) for t in types]
        )

    def to_details(self) -> ConsentDetails:
        return ConsentDetails(
            consent_type_id=int(self.consent_type_id.data),
            document_title=self.document_title.data or "",
            document_version=self.document_version.data or "",
            signed_on=self.signed_on.data,
            witnessed_by=self.witnessed_by.data or "",
            valid_until=self.valid_until.data,
            note=self.note.data or "",
        )


class WithdrawConsentForm(FlaskForm):
    reason = TextAreaField(
        "Why the consent is withdrawn",
        validators=[DataRequired("Say why the consent is withdrawn."), Length(max=1000)],
        filters=[_stripped],
        render_kw={"rows": 2},
    )
