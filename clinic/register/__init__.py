"""The controlled-substance register: stock lots of ketamine and esketamine and a ledger per lot
that is only ever appended to (DESIGN.md §3). The chart's administrations of a controlled drug
draw from a lot in the same transaction. Routes are in views.py, on `bp`."""

from flask import Blueprint

bp = Blueprint("register", __name__, url_prefix="/register")
