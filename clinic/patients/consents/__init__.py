"""Consents: a patient's informed consent for a route and drug, recorded, shown and withdrawn.

A session is opened only for a route a current consent covers (clinic/sessions/services/opening.py
asks `current_consent_for`). Routes are in views.py, on `bp`, under the patient's URLs.
"""

from flask import Blueprint

bp = Blueprint("consents", __name__, url_prefix="/patients")
