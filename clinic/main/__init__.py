"""Home page (today's board) and health check. Routes are in views.py, on `bp`."""

from flask import Blueprint

bp = Blueprint("main", __name__)
