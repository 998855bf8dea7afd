"""Administrations as the clinician states them, and the events of an infusion."""

from __future__ import annotations

from flask_login import current_user
from werkzeug.wrappers import Response

from clinic.auth.access import roles_required
from clinic.auth.models import CLINICAL_ROLES, Role
from clinic.clinic_time import from_local
from clinic.extensions import db
from clinic.field_errors import FieldError
from clinic.sessions.blueprint import bp
from clinic.sessions.chart import (
    ADMINISTRATION_PREFIX,
    Confirmation,
    ShownAgain,
    adverse_event_choices,
    chart_again,
    chart_refusing,
    order_choices,
    saved,
)
from clinic.sessions.entry_time import entered_time
from clinic.sessions.forms.administrations import AdministrationForm, InfusionEventForm
from clinic.sessions.guards import SessionLockedError
from clinic.sessions.loading import session_status_or_404
from clinic.sessions.models import InfusionEventKind, Method, Route, SessionStatus
from clinic.sessions.services.administrations import (
    AdministrationDetails,
    InfusionEventDetails,
    record_administration,
    record_infusion_event,
)
from clinic.sessions.services.staff import staff_choices
from clinic.sessions.views.posting import save_or_show_again


@bp.route("/<int:session_id>/administrations", methods=["POST"])
@roles_required(*CLINICAL_ROLES)
def add_administration(session_id: int) -> Response | tuple[str, int]:
    form = AdministrationForm(prefix=ADMINISTRATION_PREFIX)
    form.ordering_clinician_id.choices = staff_choices(Role.CLINICIAN, "—")
    form.order_id.choices = order_choices(session_id)
    form.adverse_event_id.choices = adverse_event_choices(session_id)

    def write() -> Confirmation:
        details = AdministrationDetails(
            drug=(form.drug.data or "").strip(),
            route=Route(form.route.data),
            method=Method(form.method.data),
            dose_amount=form.dose_amount.data,
            dose_unit=form.dose_unit.data,
            rate_amount=form.rate_amount.data,
            rate_unit=form.rate_unit.data or None,
            started_at=entered_time(form, form.started_at),
            ended_at=None if form.ended_at.data is None else from_local(form.ended_at.data),
            site=(form.site.data or "").strip(),
            lot_number=(form.lot_number.data or "").strip(),
            ordering_clinician_id=form.ordering_clinician_id.data,
            note=(form.note.data or "").strip(),
            order_id=form.order_id.data,
            concentration=(form.concentration.data or "").strip() or None,
            volume_ml=form.volume_ml.data,
            adverse_event_id=form.adverse_event_id.data,
        )
        stored = record_administration(
            current_user, session_id, details, form.submission(), form.draw_details()
        )
        row = f"administration-{stored.entry.id}"
        return Confirmation("administrations", "Administration recorded.", row)

    return save_or_show_again(
        session_id,
        form,
        write,
        shown_again=ShownAgain(administration_form=form),
        anchor="administrations",
        focus="administrations",
        default_field="drug",
    )


@bp.route("/<int:session_id>/administrations/<int:administration_id>/events", methods=["POST"])
@roles_required(*CLINICAL_ROLES)
def add_infusion_event(session_id: int, administration_id: int) -> Response | tuple[str, int]:
    if session_status_or_404(session_id) == SessionStatus.SIGNED:
        return chart_refusing(session_id, SessionLockedError.message)
    form = InfusionEventForm(prefix=f"event-{administration_id}")
    if not form.validate_on_submit():
        shown_again = ShownAgain(event_forms={administration_id: form})
        return chart_again(session_id, shown_again, focus="administrations")
    details = InfusionEventDetails(
        kind=InfusionEventKind(form.kind.data),
        occurred_at=entered_time(form, form.occurred_at),
        rate_amount=form.rate_amount.data,
        rate_unit=form.rate_unit.data or None,
        bolus_amount=form.bolus_amount.data,
        bolus_unit=form.bolus_unit.data or None,
        note=(form.note.data or "").strip(),
    )
    try:
        stored = record_infusion_event(
            current_user, session_id, administration_id, details, form.submission()
        )
    except SessionLockedError as error:
        return chart_refusing(session_id, error.message)
    except FieldError as error:
        # The event is refused for the infusion's state (stopped, voided), not for a field.
        return chart_refusing(session_id, error.message)
    db.session.commit()
    # A stopped infusion takes no more events: its form is gone, the table's status stands in.
    stopped = details.kind == InfusionEventKind.STOPPED
    confirmation = Confirmation(
        "administrations" if stopped else f"event-form-{administration_id}",
        f"{details.kind.label} recorded.",
        f"infusion-event-{stored.entry.id}",
    )
    return saved(session_id, confirmation, f"administration-{administration_id}")
