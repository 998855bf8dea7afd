"""Patients: registry, search, history, exports."""

from flask import Blueprint

bp = Blueprint("patients", __name__, url_prefix="/patients")

from clinic.patients import export_views as export_views  # noqa: E402
from clinic.patients import views  # noqa: E402,F401  (routes register on bp)
