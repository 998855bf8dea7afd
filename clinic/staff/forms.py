from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Regexp

from clinic.auth.models import Role
from clinic.form_choices import as_choices
from clinic.staff.services import (
    USERNAME_CHARACTERS,
    USERNAME_CHARACTERS_MESSAGE,
    USERNAME_MAX_LENGTH,
    USERNAME_MIN_LENGTH,
)

ROLE_CHOICES = [(role.value, role.label) for role in Role]


class StaffDetailsForm(FlaskForm):
    full_name = StringField("Full name", validators=[DataRequired(), Length(max=120)])
    credentials = StringField(
        "Credentials",
        validators=[Length(max=40)],
        description="As signed on records, e.g. RN, MD, NP, PA-C.",
    )
    role = SelectField("Role", choices=as_choices(ROLE_CHOICES), validators=[DataRequired()])
    submit = SubmitField("Save")


class NewStaffForm(StaffDetailsForm):
    username = StringField(
        "Username",
        validators=[
            DataRequired(),
            Length(min=USERNAME_MIN_LENGTH, max=USERNAME_MAX_LENGTH),
            Regexp(rf"^{USERNAME_CHARACTERS}\Z", message=USERNAME_CHARACTERS_MESSAGE),
        ],
        render_kw={"autocapitalize": "none", "autocomplete": "off"},
    )
    password = PasswordField(
        "Temporary password",
        validators=[DataRequired(), Length(max=128)],
        description="At least 12 characters. The person must change it at first sign-in.",
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField("Create account")


class ResetPasswordForm(FlaskForm):
    password = PasswordField(
        "New temporary password",
        validators=[DataRequired(), Length(max=128)],
        description="The person must change it at next sign-in.",
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField("Reset password")


class ActivationForm(FlaskForm):
    submit = SubmitField("Save")


class ClearSignInHoldsForm(FlaskForm):
    submit = SubmitField("Clear the failed sign-ins")


class ResetSecondFactorForm(FlaskForm):
    submit = SubmitField("Reset the second factor")
