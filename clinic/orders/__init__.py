"""Orders: what a clinician decides a patient is given, written and signed with the password
re-entered, never edited (a change is a new order superseding it, or a discontinuation). The
chart reads the orders in force for a session and records the one each administration carries
out. Routes are in views.py, on `bp`."""

from flask import Blueprint

bp = Blueprint("orders", __name__, url_prefix="/orders")
