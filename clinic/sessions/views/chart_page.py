"""The chart itself: one page for the whole session at the chair."""

from __future__ import annotations

from decimal import Decimal

from clinic.auth.access import roles_required
from clinic.auth.models import CLINICAL_ROLES
from clinic.clinical_numbers import decimal_text
from clinic.sessions.blueprint import bp
from clinic.sessions.chart import show_chart
from clinic.sessions.loading import get_session_or_404


@bp.app_template_filter("clinical_decimal")
def clinical_decimal(value: Decimal | None) -> str:
    return "" if value is None else decimal_text(value)


@bp.route("/<int:session_id>")
@roles_required(*CLINICAL_ROLES)
def chart(session_id: int) -> str:
    # The cursor waits in the first vitals field: after each saved entry this page comes back.
    return show_chart(get_session_or_404(session_id), focus="monitoring")
