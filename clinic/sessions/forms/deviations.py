"""Acknowledging a deviation from an order."""

from __future__ import annotations

from flask_wtf import FlaskForm

from clinic.sessions.forms.fields import required_text


class AcknowledgeDeviationForm(FlaskForm):
    note = required_text("What you found and decided", "Write what you found and decided.")
