"""The pre-session screening, and a clinician's override of a no-go."""

from __future__ import annotations

from flask_login import current_user
from werkzeug.wrappers import Response

from clinic.auth.access import roles_required
from clinic.auth.models import CLINICAL_ROLES, Role
from clinic.clinic_time import from_local
from clinic.extensions import db
from clinic.sessions.blueprint import bp
from clinic.sessions.chart import Confirmation, ShownAgain
from clinic.sessions.entry_time import entered_time
from clinic.sessions.forms.screening import YES, ScreeningForm, ScreeningOverrideForm
from clinic.sessions.models import Pregnancy
from clinic.sessions.services.screening import (
    ScreeningDetails,
    StaleScreeningError,
    override_screening,
    record_screening,
)
from clinic.sessions.views.posting import save_or_show_again


@bp.route("/<int:session_id>/screening", methods=["POST"], endpoint="record_screening")
@roles_required(*CLINICAL_ROLES)
def record_screening_view(session_id: int) -> Response | tuple[str, int]:
    form = ScreeningForm(prefix="screening")

    def write() -> Confirmation:
        present = form.escort_present.data == YES
        details = ScreeningDetails(
            occurred_at=entered_time(form, form.occurred_at),
            pregnancy=Pregnancy(form.pregnancy.data),
            last_solid_food_at=(
                from_local(form.last_solid_food_at.data) if form.last_solid_food_at.data else None
            ),
            last_clear_fluid_at=(
                from_local(form.last_clear_fluid_at.data) if form.last_clear_fluid_at.data else None
            ),
            concomitant_medicines=list(form.concomitant_medicines.data or []),
            alcohol_or_drugs=form.alcohol_or_drugs.data == YES,
            new_problems=form.new_problems.data or "",
            suicidality_positive=form.suicidality_positive.data == YES,
            escort_present=present,
            escort_name=(form.escort_name.data or "") if present else "",
            escort_relationship=(form.escort_relationship.data or "") if present else "",
            escort_phone=(form.escort_phone.data or "") if present else "",
            note=form.note.data or "",
        )
        try:
            record_screening(
                current_user,
                session_id,
                details,
                int(form.version.data) if form.version.data else None,
                form.submission(),
            )
        except StaleScreeningError as error:
            # Shown again over what is now current: saving once more is a deliberate choice.
            db.session.rollback()
            form.version.data = str(error.current_version)
            raise
        return Confirmation("screening", "Screening recorded.")

    return save_or_show_again(
        session_id,
        form,
        write,
        shown_again=ShownAgain(screening_form=form),
        anchor="screening",
        focus="screening",
    )


@bp.route("/<int:session_id>/screening/override", methods=["POST"], endpoint="override_screening")
@roles_required(Role.CLINICIAN)
def override_screening_view(session_id: int) -> Response | tuple[str, int]:
    form = ScreeningOverrideForm(prefix="screening-override")

    def write() -> Confirmation:
        override_screening(current_user, session_id, form.override_reason.data or "")
        return Confirmation("screening", "Override recorded: the treatment may go ahead.")

    return save_or_show_again(
        session_id,
        form,
        write,
        shown_again=ShownAgain(screening_override_form=form),
        anchor="screening",
    )
