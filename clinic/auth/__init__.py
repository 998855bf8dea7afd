"""Staff sign-in, sessions and the role checks every view goes through."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from clinic.auth import views  # noqa: E402,F401  (routes register on bp)
