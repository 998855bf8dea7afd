"""Patients: the registry, search, registration and edits. Routes are in views.py, on `bp`."""

from flask import Blueprint

bp = Blueprint("patients", __name__, url_prefix="/patients")
