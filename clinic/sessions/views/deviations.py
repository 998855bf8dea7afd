"""A clinician acknowledges a deviation from an order, on the chart."""

from __future__ import annotations

from flask_login import current_user
from werkzeug.wrappers import Response

from clinic.auth.access import roles_required
from clinic.auth.models import Role
from clinic.sessions.blueprint import bp
from clinic.sessions.chart import Confirmation, ShownAgain
from clinic.sessions.forms.deviations import AcknowledgeDeviationForm
from clinic.sessions.services.deviations import acknowledge_deviation
from clinic.sessions.views.posting import save_or_show_again


@bp.route("/<int:session_id>/administrations/<int:administration_id>/acknowledge", methods=["POST"])
@roles_required(Role.CLINICIAN)
def acknowledge(session_id: int, administration_id: int) -> Response | tuple[str, int]:
    form = AcknowledgeDeviationForm(prefix=f"deviation-{administration_id}")

    def write() -> Confirmation:
        acknowledge_deviation(current_user, session_id, administration_id, form.note.data or "")
        return Confirmation(
            "deviations", "Deviation acknowledged.", f"deviation-{administration_id}"
        )

    return save_or_show_again(
        session_id,
        form,
        write,
        shown_again=ShownAgain(deviation_forms={administration_id: form}),
        anchor="deviations",
        focus="deviations",
        default_field="note",
    )
