from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length, Optional


class LoginForm(FlaskForm):
    username = StringField(
        "Username",
        validators=[DataRequired(), Length(max=64)],
        render_kw={"autocomplete": "username", "autocapitalize": "none", "autofocus": True},
    )
    password = PasswordField(
        "Password",
        validators=[DataRequired(), Length(max=256)],
        render_kw={"autocomplete": "current-password"},
    )
    submit = SubmitField("Sign in")


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        "Current password",
        validators=[DataRequired(), Length(max=256)],
        render_kw={"autocomplete": "current-password"},
    )
    new_password = PasswordField(
        "New password",
        validators=[DataRequired(), Length(max=256)],
        description="At least 12 characters; a passphrase of several words works well.",
        render_kw={"autocomplete": "new-password"},
    )
    confirm_password = PasswordField(
        "Repeat the new password",
        validators=[DataRequired(), EqualTo("new_password", message="The two entries differ.")],
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField("Change password")


class LogoutForm(FlaskForm):
    submit = SubmitField("Sign out")


class UnlockForm(FlaskForm):
    """The lock screen's sign-in (views.unlock): the account the locked page was signed in to."""

    username = HiddenField(validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])
    # Asked of whoever has a second factor (clinic/auth/second_factor.py).
    code = StringField("Code", validators=[Optional(), Length(max=40)])
