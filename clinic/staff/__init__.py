"""Admin: staff accounts."""

from flask import Blueprint

bp = Blueprint("staff", __name__, url_prefix="/staff")


def blueprint() -> Blueprint:
    """The blueprint with its routes.

    The view modules are imported here rather than at package import, so that importing a
    model (clinic.staff.models) never drags in views that import models of other packages.
    """
    from clinic.staff import views  # noqa: F401

    return bp
