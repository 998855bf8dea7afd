"""Scores, checklist, voiding, ending, sign-off and addenda of the chart."""

from typing import Any

from clinic.sessions.models import InfusionSession


def closing_context(infusion_session: InfusionSession) -> dict[str, Any]:
    """What templates/sessions/_closing.html needs, merged into the chart page's context."""
    return {}
