"""A clinician writes an order for this session alone, from the chart's orders panel."""

from __future__ import annotations

from functools import partial

from flask import url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from clinic.auth.access import roles_required
from clinic.auth.models import Role
from clinic.orders.views import order_form_page
from clinic.sessions.blueprint import bp
from clinic.sessions.loading import get_session_or_404
from clinic.sessions.services.session_orders import write_session_order


@bp.route("/<int:session_id>/orders/new", methods=["GET", "POST"])
@roles_required(Role.CLINICIAN)
def new_session_order(session_id: int) -> Response | tuple[str, int]:
    infusion_session = get_session_or_404(session_id)
    return order_form_page(
        infusion_session.patient,
        partial(write_session_order, current_user, session_id),
        action=url_for("sessions.new_session_order", session_id=session_id),
        back=(url_for("sessions.chart", session_id=session_id) + "#orders", "← The chart"),
        subtitle="for this session only",
    )
