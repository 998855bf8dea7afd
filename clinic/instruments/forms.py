"""A new instrument, or a new version of one, as its definition's JSON."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

DEFINITION_MAX = 20_000


class InstrumentDefinitionForm(FlaskForm):
    definition = TextAreaField(
        "Definition (JSON)",
        description="Code, name, items with their options or range, scoring, bands, flags, "
        "timing, LOINC codes and licence note. A version in use is never changed: saving adds "
        "the next version.",
        validators=[DataRequired("Paste the definition."), Length(max=DEFINITION_MAX)],
        render_kw={"rows": 18, "spellcheck": "false", "class": "font-monospace"},
    )
