"""The navigation bar: each link with the roles that may follow it."""

from __future__ import annotations

from flask import current_app

from clinic.auth.models import CLINICAL_ROLES, Role

CLINICAL = frozenset(CLINICAL_ROLES)
ADMIN = frozenset({Role.ADMIN})

NAV_LINKS: tuple[tuple[str, str, frozenset[Role]], ...] = (
    ("main.index", "Today", CLINICAL),
    ("patients.index", "Patients", CLINICAL),
    ("register.index", "Register", CLINICAL),
    ("staff.index", "Staff", ADMIN),
    ("audit.index", "Audit trail", ADMIN),
)


def nav_links() -> list[tuple[str, str, frozenset[Role]]]:
    """Links whose feature is installed in this app."""
    return [link for link in NAV_LINKS if link[0] in current_app.view_functions]
