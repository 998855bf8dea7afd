"""The infusion session chart: administrations, monitoring, scores, checklist, sign-off."""

from flask import Blueprint

bp = Blueprint("sessions", __name__, url_prefix="/sessions")


def blueprint() -> Blueprint:
    """The blueprint with its routes.

    The view modules are imported here rather than at package import, so that importing a
    model (clinic.sessions.models) never drags in views that import models of other packages.
    """
    from clinic.sessions import closing_views, views  # noqa: F401

    return bp
