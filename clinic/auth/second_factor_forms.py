"""The forms of the second factor's pages (clinic/auth/second_factor_views.py)."""

from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField
from wtforms.validators import DataRequired, Length


class SecondFactorCodeForm(FlaskForm):
    """The second step of a sign-in: the app's code, or a recovery code."""

    code = StringField(
        "Code",
        validators=[DataRequired(message="Type the code your app shows."), Length(max=40)],
        description="The 6 digits your authenticator app shows for this clinic, or one of your "
        "recovery codes.",
        render_kw={
            "autocomplete": "one-time-code",
            "autocapitalize": "none",
            "spellcheck": "false",
            "autofocus": True,
        },
    )
    submit = SubmitField("Continue")


class EnrolForm(FlaskForm):
    """Setting up the app: its first code confirms it holds the secret shown."""

    code = StringField(
        "Code from the app",
        validators=[DataRequired(message="Type the code your app shows."), Length(max=20)],
        description="The 6 digits the app shows for this account now.",
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True},
    )
    submit = SubmitField("Confirm")
