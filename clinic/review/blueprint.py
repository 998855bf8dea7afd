"""The review blueprint: a patient's record across sessions, under the patients' URLs."""

from flask import Blueprint

bp = Blueprint("review", __name__, url_prefix="/patients")
