"""The fast attribute renderer writes exactly the HTML WTForms' own would."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import SelectField, SelectMultipleField

from clinic import form_rendering

TRICKY = "a \"quoted\" <b>&amp; 'single' ü"


@pytest.mark.parametrize(
    "attributes",
    [
        {"name": "heart_rate", "id": "heart_rate", "class_": "form-control is-invalid"},
        {"value": TRICKY, "placeholder": "<script>alert(1)</script>"},
        {"value": Markup('<i class="x">safe</i>')},
        {"checked": True, "readonly": False, "disabled": True, "name": "x"},
        {"data_entry_time": "2026-11-25T10:00", "aria_describedby": "a-help a-error"},
        {"min": 0, "max": 300, "step": 0.1, "value": None},
        {"for_": "x", "class_": ""},
        {},
    ],
)
def test_attributes_match_wtforms(attributes: dict[str, Any]) -> None:
    ours = form_rendering.html_params(**attributes)
    theirs = form_rendering.WTFORMS_HTML_PARAMS(**attributes)
    assert isinstance(ours, Markup)
    assert str(ours) == str(theirs)


def _all_forms() -> Iterator[type[FlaskForm]]:
    # Importing the app has imported every form module.
    pending = list(FlaskForm.__subclasses__())
    while pending:
        form_class = pending.pop()
        pending.extend(form_class.__subclasses__())
        if form_class.__module__.startswith("clinic."):
            yield form_class


_ITEM = SimpleNamespace(id=7, detail_label='Driver "name" <b>')


def _keyword_only(form_class: type[FlaskForm]) -> set[str]:
    parameters = inspect.signature(form_class.__init__).parameters.values()
    return {p.name for p in parameters if p.kind is p.KEYWORD_ONLY}


def _forms() -> list[FlaskForm]:
    forms = []
    for form_class in sorted(_all_forms(), key=lambda c: c.__qualname__):
        # The checklist's form takes the item it records.
        extra = {"item": _ITEM} if "item" in _keyword_only(form_class) else {}
        form = form_class(formdata=None, **extra)
        for field in form:
            if isinstance(field, SelectField | SelectMultipleField) and not field.choices:
                field.choices = [("1", TRICKY), ("2", "<b>two</b>")]
                field.data = "1"
            elif field.type in ("StringField", "TextAreaField"):
                field.data = TRICKY
        forms.append(form)
    return forms


def _render(forms: list[FlaskForm]) -> list[str]:
    return [
        f"{type(form).__qualname__}: {field.label()} {field()}" for form in forms for field in form
    ]


def test_every_form_of_the_app_renders_as_with_wtforms(app: Flask) -> None:
    with app.test_request_context():
        forms = _forms()  # once: hidden one-time keys are random per form
        ours = _render(forms)
        form_rendering.uninstall()
        try:
            theirs = _render(forms)
        finally:
            form_rendering.install()
    assert len(ours) > 100  # every form of the app, not an empty list compared with itself
    assert ours == theirs
    assert any("&#34;quoted&#34;" in line for line in ours)
