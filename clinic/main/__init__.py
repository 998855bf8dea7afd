"""Home page and health check."""

from flask import Blueprint

bp = Blueprint("main", __name__)


def blueprint() -> Blueprint:
    """The blueprint with its routes.

    The view modules are imported here rather than at package import, so that importing a
    model (clinic.main.models) never drags in views that import models of other packages.
    """
    from clinic.main import views  # noqa: F401

    return bp
