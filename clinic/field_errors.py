"""A refusal a person can fix, and the one way it lands next to the field at fault.

Services raise a `FieldError` (or a subclass) with a message in words for the user and, when one
field is at fault, that field's name; views hand it to `show_on_form`, so the message appears next
to the field and the form keeps what was typed.
"""

from __future__ import annotations

from typing import Any


class FieldError(ValueError):
    """A change refused for a reason the user can fix; `field` names the form field at fault."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def show_on_form(form: Any, error: FieldError, default_field: str | None = None) -> None:
    """Put the error's message next to its field (or `default_field`), else above the form."""
    target = getattr(form, error.field or default_field or "", None)
    errors = getattr(target, "errors", None)
    if isinstance(errors, list):
        errors.append(error.message)
    else:
        form.form_errors.append(error.message)
