"""The infusion session chart: opening, administrations, monitoring, scores, checklist and
discharge, voiding, sign-off and addenda, printing. Routes live in clinic/sessions/views/, on the
blueprint of clinic/sessions/blueprint.py."""
