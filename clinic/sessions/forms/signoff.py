"""Signing a session (the password and the second factor's code again) and addenda."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    PasswordField,
    StringField,
)
from wtforms.validators import (
    InputRequired,
    Length,
    Optional,
)

from clinic.sessions.entry_time import OneTimeForm
from clinic.sessions.forms.fields import required_text


class SignForm(FlaskForm):
    password = PasswordField(
        "Your password",
        validators=[InputRequired(message="Re-enter your password to sign."), Length(max=128)],
        description="Signing locks the record; later corrections go in an addendum.",
        render_kw={"autocomplete": "current-password"},
    )
    # Shown to whoever has a second factor (clinic/auth/second_factor.py); the service decides.
    code = StringField(
        "Code from your authenticator app",
        validators=[Optional(), Length(max=40)],
        description="Or one of your recovery codes.",
        render_kw={"autocomplete": "one-time-code", "autocapitalize": "none"},
    )


class AddendumForm(OneTimeForm):
    default_prefix = "addendum"
    text = required_text("Addendum", "Write the addendum.", max_length=5000)
    reason = required_text("Reason", "Give the reason for the addendum.")
