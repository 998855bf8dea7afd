"""The infusion session chart: administrations, monitoring, scores, checklist, sign-off."""

from flask import Blueprint

bp = Blueprint("sessions", __name__, url_prefix="/sessions")

from clinic.sessions import views  # noqa: E402,F401  (routes register on bp)
from clinic.sessions import closing_views  # noqa: E402,F401
