"""The chart's views, one module per section, all on the sessions blueprint.

Importing this package registers every route; views are thin: parse the form, call one service,
commit once, redirect back to the chart (Post/Redirect/Get), or show the chart again through
clinic/sessions/chart.py with the refused input kept.
"""

from clinic.sessions.blueprint import bp
from clinic.sessions.views import (
    administrations,
    adverse_events,
    chart_page,
    deviations,
    discharge,
    discharge_assessment,
    monitoring,
    opening,
    printing,
    rems,
    scores,
    screening,
    session_orders,
    signoff,
    voiding,
)

__all__ = [
    "administrations",
    "adverse_events",
    "bp",
    "chart_page",
    "deviations",
    "discharge",
    "discharge_assessment",
    "monitoring",
    "opening",
    "printing",
    "rems",
    "scores",
    "screening",
    "session_orders",
    "signoff",
    "voiding",
]
