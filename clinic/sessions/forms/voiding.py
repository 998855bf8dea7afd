"""Voiding an entry asks for the reason."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    Length,
)

from clinic.sessions.forms.fields import REASON_MAX, strip_text


class VoidForm(FlaskForm):
    reason = TextAreaField(
        "Reason for voiding",
        validators=[DataRequired(message="Give the reason for voiding."), Length(max=REASON_MAX)],
        filters=[strip_text],
        render_kw={"rows": 2},
    )
