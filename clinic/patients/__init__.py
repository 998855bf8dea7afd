"""Patients: registry, search, history, exports."""

from flask import Blueprint

bp = Blueprint("patients", __name__, url_prefix="/patients")


def blueprint() -> Blueprint:
    """The blueprint with its routes.

    The view modules are imported here rather than at package import, so that importing a
    model (clinic.patients.models) never drags in views that import models of other packages.
    """
    from clinic.patients import export_views, views  # noqa: F401

    return bp
