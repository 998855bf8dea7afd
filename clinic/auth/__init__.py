"""Staff sign-in, sessions and the role checks every view goes through. Routes: views.py."""

from flask import Blueprint

bp = Blueprint("auth", __name__)
