"""Choices of select and radio fields as WTForms 3.3+ takes them (tuples are deprecated)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from wtforms.fields.choices import SelectChoice


def as_choices(pairs: Iterable[tuple[Any, str]]) -> list[SelectChoice]:
    return [SelectChoice(value=value, label=label) for value, label in pairs]
