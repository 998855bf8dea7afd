"""Staff sign-in, sessions and the role checks every view goes through."""

from flask import Blueprint

bp = Blueprint("auth", __name__)


def blueprint() -> Blueprint:
    """The blueprint with its routes.

    The view modules are imported here rather than at package import, so that importing a
    model (clinic.auth.models) never drags in views that import models of other packages.
    """
    from clinic.auth import views  # noqa: F401

    return bp
