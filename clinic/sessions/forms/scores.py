"""A score's form, built from its instrument's definition: one field per item (a one-tap choice
for answer options, a whole number for an entered domain or total), when it was taken where the
instrument admits more than one moment, and the clinician's assessment where it asks for one.

Answers are checked by the service against the definition (clinic/instruments/definitions.py),
so a refused answer gets the same message whatever sent it."""

from __future__ import annotations

import json
from typing import Any

from wtforms import Field, HiddenField, RadioField, TextAreaField
from wtforms.validators import InputRequired, Length

from clinic.form_choices import as_choices
from clinic.instruments.definitions import Definition, Item, Option
from clinic.instruments.models import InstrumentVersion
from clinic.sessions.entry_time import OneTimeForm, occurred_at_field
from clinic.sessions.forms.fields import TIMING_CHOICES, VitalField, optional_int, strip_text
from clinic.sessions.forms.times import twenty_four_hour
from clinic.sessions.models import Instrument, ScoreTiming
from clinic.sessions.services.scores import NOTE_MAX, TIMINGS

# The pain form's fields have always been "pain-…" (its URL is /scores/pain).
PREFIXES = {Instrument.PAIN_NRS.value: "pain"}
TIMING_LABELS = dict(TIMING_CHOICES)


def form_prefix(code: str) -> str:
    return PREFIXES.get(code, code)


class ScoreForm(OneTimeForm):
    """The fields every instrument's form has; `score_form_class` adds the definition's."""

    version = HiddenField()
    definition: Definition
    item_names: tuple[str, ...] = ()

    @property
    def item_fields(self) -> list[Field]:
        return [getattr(self, name) for name in self.item_names]

    @property
    def answers(self) -> dict[str, int | None]:
        return {field.short_name: field.data for field in self.item_fields}

    @property
    def chosen_timing(self) -> ScoreTiming | None:
        timing = getattr(self, "timing", None)
        return ScoreTiming(timing.data) if timing is not None and timing.data else None

    @property
    def version_id(self) -> int | None:
        text = (self.version.data or "").strip()
        if not text:
            return None
        return int(text) if text.isdigit() and len(text) < 10 else -1  # -1: no such version

    @property
    def note(self) -> str | None:
        field = getattr(self, "assessment_note", None)
        return field.data if field is not None else None


class EnteredNumberField(VitalField):
    """A domain score or total as entered on a licensed form: a whole number, range checked by
    the service against the definition."""

    def post_validate(self, form: Any, validation_stopped: bool) -> None:
        return None


def _option_label(option: Option) -> str:
    """ "1 · Several days" (the score large, its meaning small); a bare number stays bare."""
    if option.label == str(option.value):
        return option.label
    return f"{option.value} · {option.label}"


def _item_field(item: Item, numbered: bool) -> Field:
    label = f"{item.number}. {item.text}" if numbered else item.text
    if item.options:
        return RadioField(
            label,
            choices=as_choices((o.value, _option_label(o)) for o in item.options),
            coerce=optional_int,
            validate_choice=False,  # the service refuses an answer outside the options
        )
    return EnteredNumberField(label, description=f"{item.minimum} to {item.maximum}")


# By the definition's own text: a version never changes, so its form is built once.
_CLASSES: dict[str, type[ScoreForm]] = {}


def score_form_class(version: InstrumentVersion) -> type[ScoreForm]:
    """The form of one instrument version (built once per version: a version never changes)."""
    key = json.dumps([version.id, version.definition], sort_keys=True)
    known = _CLASSES.get(key)
    if known is not None:
        return known
    definition = version.spec
    attributes: dict[str, Any] = {
        "default_prefix": form_prefix(definition.code),
        "definition": definition,
        "item_names": tuple(item.name for item in definition.items),
        "occurred_at": twenty_four_hour(occurred_at_field()),
    }
    timings = TIMINGS[definition.timing]
    if len(timings) > 1:
        attributes["timing"] = RadioField(
            "When",
            choices=as_choices((t.value, TIMING_LABELS.get(t.value, t.label)) for t in timings),
            validators=[InputRequired(message="Choose when it was taken.")],
        )
    for item in definition.items:
        attributes[item.name] = _item_field(item, numbered=len(definition.items) > 1)
    if definition.assessment is not None:
        attributes["assessment_note"] = TextAreaField(
            definition.assessment.label,
            validators=[Length(max=NOTE_MAX)],
            filters=[strip_text],
            render_kw={"rows": 3},
        )
    form_class = type(f"ScoreForm_{definition.code}_{version.version}", (ScoreForm,), attributes)
    _CLASSES[key] = form_class
    return form_class


def score_form(version: InstrumentVersion, **kwargs: Any) -> ScoreForm:
    form = score_form_class(version)(**kwargs)
    if not form.version.data:
        form.version.data = str(version.id)
    return form
