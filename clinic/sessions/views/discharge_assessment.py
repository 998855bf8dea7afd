"""Discharge readiness, and the patient's handout of the instructions given."""

from __future__ import annotations

from flask import render_template
from flask_login import current_user
from werkzeug.wrappers import Response

from clinic.auth.access import roles_required
from clinic.auth.models import CLINICAL_ROLES
from clinic.extensions import db
from clinic.sessions.blueprint import bp
from clinic.sessions.chart import Confirmation, ShownAgain, instruction_choices
from clinic.sessions.entry_time import entered_time
from clinic.sessions.forms.discharge_assessment import DischargeAssessmentForm
from clinic.sessions.loading import get_session_or_404
from clinic.sessions.services.discharge_assessment import (
    AssessmentDetails,
    latest_assessment,
    record_discharge_assessment,
)
from clinic.sessions.services.screening import screening_of
from clinic.sessions.services.viewing import record_session_view
from clinic.sessions.views.posting import save_or_show_again


@bp.route("/<int:session_id>/discharge-assessment", methods=["POST"], endpoint="assess_discharge")
@roles_required(*CLINICAL_ROLES)
def assess_discharge(session_id: int) -> Response | tuple[str, int]:
    form = DischargeAssessmentForm(prefix="assessment")
    form.instruction_id.choices = instruction_choices()

    def write() -> Confirmation:
        details = AssessmentDetails(
            occurred_at=entered_time(form, form.occurred_at),
            activity=int(form.activity.data),
            respiration=int(form.respiration.data),
            circulation=int(form.circulation.data),
            consciousness=int(form.consciousness.data),
            spo2=int(form.spo2.data),
            escort_confirmed=form.escort_confirmed.data == "yes",
            instruction_id=form.instruction_id.data,
            note=form.note.data or "",
        )
        stored = record_discharge_assessment(current_user, session_id, details, form.submission())
        return Confirmation(
            "assessment", f"Assessment recorded: modified Aldrete {stored.entry.total}."
        )

    return save_or_show_again(
        session_id,
        form,
        write,
        shown_again=ShownAgain(assessment_form=form),
        anchor="ending",
        focus="ending",
    )


@bp.route("/<int:session_id>/handout")
@roles_required(*CLINICAL_ROLES)
def handout(session_id: int) -> str:
    """The patient's printable handout: the instructions in the version given at discharge."""
    infusion_session = get_session_or_404(session_id)
    page = render_template(
        "sessions/handout.html",
        infusion_session=infusion_session,
        patient=infusion_session.patient,
        assessment=latest_assessment(session_id),
        screening=screening_of(session_id),
    )
    record_session_view(current_user, infusion_session, "session_handout_printed")
    db.session.commit()
    return page
