"""The sessions blueprint, on its own so that every view module can register on it."""

from flask import Blueprint

bp = Blueprint("sessions", __name__, url_prefix="/sessions")
