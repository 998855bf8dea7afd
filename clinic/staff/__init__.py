"""Admin: staff accounts. Routes are in views.py, on `bp`."""

from flask import Blueprint

bp = Blueprint("staff", __name__, url_prefix="/staff")
