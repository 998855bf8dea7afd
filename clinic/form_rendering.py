"""Form fields rendered with the same HTML as WTForms, without its per-attribute formatter.

WTForms 3 writes every attribute of every input, label and option through `Markup.format`, i.e.
Python's `string.Formatter`. The chart renders about a hundred fields, so that formatter weighs on
every chart view (bench/README.md has the measurement). `html_params` below produces the same
attributes, escaped the same way (tests/test_form_rendering.py compares the two), with one
f-string per attribute. WTForms looks the function up as a module global and as a widget class
attribute, so both are pointed at it once, when the app is created.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape
from wtforms import widgets
from wtforms.widgets import core

# WTForms' own, kept for the equivalence test and for `uninstall`.
WTFORMS_HTML_PARAMS = core.html_params


def html_params(**kwargs: Any) -> Markup:
    params = []
    for key, value in sorted(kwargs.items()):
        name = escape(core.clean_key(key))
        if value is True:
            params.append(str(name))
        elif value is not False:
            # escape() leaves a Markup value as it is; its quotes must still not end the attribute.
            params.append(f'{name}="{str(escape(value)).replace(chr(34), "&quot;")}"')
    # Every value was escaped above, and the names are the app's own keyword arguments.
    return Markup(" ".join(params))  # noqa: S704  # nosec B704


def install() -> None:
    """Point WTForms at the fast `html_params` (idempotent)."""
    _point_at(html_params)


def uninstall() -> None:
    _point_at(WTFORMS_HTML_PARAMS)


def _point_at(function: Any) -> None:
    core.html_params = function  # the widgets' module global
    widgets.html_params = function  # Label calls it through the package
    for name in dir(core):
        widget = getattr(core, name)
        if isinstance(widget, type) and "html_params" in vars(widget):
            widget.html_params = staticmethod(function)
