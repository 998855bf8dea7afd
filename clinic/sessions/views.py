"""The chart: open a session, view it, and chart administrations, infusion events, monitoring.

Views are thin: parse the form, call one service, commit once, redirect (Post/Redirect/Get). A
refused form re-renders the whole chart with the user's input and status 422; a signed session
refuses with 409 and a message, never a 500.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import joinedload, selectinload
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from clinic.auth.access import roles_required
from clinic.auth.models import Role
from clinic.clinic_time import from_local, to_local
from clinic.clinical_numbers import decimal_text
from clinic.database import utcnow
from clinic.extensions import db
from clinic.field_errors import FieldError, show_on_form
from clinic.form_choices import as_choices
from clinic.patients.models import Indication, Patient
from clinic.patients.services import record_patient_viewed
from clinic.sessions import bp
from clinic.sessions import services as chart_services
from clinic.sessions.closing_services import record_session_view
from clinic.sessions.closing_views import closing_context
from clinic.sessions.entry_time import entered_time
from clinic.sessions.forms import (
    AdministrationForm,
    EndSessionForm,
    InfusionEventForm,
    MonitoringForm,
    OpenSessionForm,
)
from clinic.sessions.guards import SessionLockedError
from clinic.sessions.models import (
    Administration,
    Dissociation,
    InfusionEvent,
    InfusionEventKind,
    InfusionSession,
    Method,
    MonitoringEntry,
    Nausea,
    Phase,
    Route,
    SessionStatus,
)
from clinic.sessions.vitals import abnormal_flags, first_dosing_time, minutes_since, next_vitals_due

CHARTING_ROLES = (Role.NURSE, Role.CLINICIAN)
# Prefixed so its fields' ids (note, submission key) do not repeat the monitoring form's.
ADMINISTRATION_PREFIX = "administration"


@bp.app_template_filter("clinical_decimal")
def clinical_decimal(value: Decimal | None) -> str:
    return "" if value is None else decimal_text(value)


# The statements every chart request runs are built once: building a select with its loader
# options cost about as much as running it.
SESSION_WITH_HEADER = (
    sa.select(InfusionSession)
    .where(InfusionSession.id == sa.bindparam("session_id"))
    .options(
        joinedload(InfusionSession.patient),
        joinedload(InfusionSession.attending_clinician),
        joinedload(InfusionSession.nurse),
        joinedload(InfusionSession.signature),
    )
)
SESSION_STATUS = sa.select(InfusionSession.status).where(
    InfusionSession.id == sa.bindparam("session_id")
)
ADMINISTRATIONS_OF_SESSION = (
    sa.select(Administration)
    .where(Administration.session_id == sa.bindparam("session_id"))
    .options(selectinload(Administration.events), joinedload(Administration.ordering_clinician))
    .order_by(Administration.started_at, Administration.id)
)
MONITORING_OF_SESSION = (
    sa.select(MonitoringEntry)
    .where(MonitoringEntry.session_id == sa.bindparam("session_id"))
    .order_by(MonitoringEntry.occurred_at, MonitoringEntry.id)
)


def get_session_or_404(session_id: int) -> InfusionSession:
    """The one way a view loads a session, with what its header needs."""
    infusion_session = db.session.scalar(SESSION_WITH_HEADER, {"session_id": session_id})
    if infusion_session is None:
        abort(404)
    return infusion_session


def session_status_or_404(session_id: int) -> SessionStatus:
    """What a post checks before reading its input: the session exists and is not signed.

    Only the status is read: the post's service locks and reads the row itself, and the joins of
    get_session_or_404 were a tenth of a monitoring post.
    """
    status = db.session.scalar(SESSION_STATUS, {"session_id": session_id})
    if status is None:
        abort(404)
    return status


def _staff_choices(role: Role, blank: str | None = None) -> list[SelectChoice]:
    choices: list[tuple[Any, str]] = [("", blank)] if blank is not None else []
    staff = [(user.id, user.display_name) for user in chart_services.active_staff(role)]
    return as_choices(choices + staff)


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else from_local(value)


# --- opening a session ---------------------------------------------------------------------


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*CHARTING_ROLES)
def new() -> Response | str | tuple[str, int]:
    patient_id = request.args.get("patient", type=int)
    patient = db.get_or_404(Patient, patient_id) if patient_id else abort(404)
    form = OpenSessionForm()
    form.attending_clinician_id.choices = _staff_choices(Role.CLINICIAN, "Choose…")
    form.nurse_id.choices = _staff_choices(Role.NURSE, "Choose…")
    if request.method == "GET":
        form.indication.data = patient.indication.value
        if current_user.role == Role.NURSE:
            form.nurse_id.data = current_user.id
        elif current_user.role == Role.CLINICIAN:
            form.attending_clinician_id.data = current_user.id
    if form.validate_on_submit():
        details = chart_services.SessionDetails(
            indication=Indication(form.indication.data),
            route=Route(form.route.data),
            attending_clinician_id=form.attending_clinician_id.data,
            nurse_id=form.nurse_id.data,
            started_at=entered_time(form, form.started_at),
            consent_on_file=bool(form.consent_on_file.data),
            fasting_confirmed=bool(form.fasting_confirmed.data),
            weight_kg=form.weight_kg.data,
        )
        try:
            saved = chart_services.open_session(
                current_user, patient.id, details, form.submission()
            )
        except FieldError as error:
            db.session.rollback()
            show_on_form(form, error, "route")
        else:
            db.session.commit()
            if saved.created:
                flash("Session opened.", "success")
            return redirect(url_for("sessions.chart", session_id=saved.entry.id))
    if form.is_submitted():
        form.renew_submission_key()
    page = render_template("sessions/new.html", form=form, patient=patient)
    # The page shows the patient's banner (name, allergies): a view of the record.
    record_patient_viewed(current_user, patient)
    db.session.commit()
    return (page, 422) if form.errors else page


# --- the chart -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineRow:
    """One line of the flowsheet: a monitoring entry or an infusion event, by when it happened."""

    kind: str  # "monitoring" | "infusion_event"
    occurred_at: datetime
    entry: MonitoringEntry | InfusionEvent
    minutes: int | None
    flags: dict[str, str]


def _chart_page(
    infusion_session: InfusionSession,
    *,
    monitoring_form: MonitoringForm | None = None,
    administration_form: AdministrationForm | None = None,
    event_forms: dict[int, InfusionEventForm] | None = None,
    end_form: EndSessionForm | None = None,
    focus: str = "",
) -> str:
    """Render the chart; forms passed in are the user's rejected input, the rest are fresh."""
    for refused in (monitoring_form, administration_form, *(event_forms or {}).values()):
        if refused is not None:
            refused.renew_submission_key()
    by_session = {"session_id": infusion_session.id}
    administrations = list(db.session.scalars(ADMINISTRATIONS_OF_SESSION, by_session).unique())
    entries = list(db.session.scalars(MONITORING_OF_SESSION, by_session).unique())
    t_zero = first_dosing_time(administrations)
    thresholds = current_app.config["VITALS_FLAGS"]
    rows = [
        TimelineRow(
            "monitoring",
            e.occurred_at,
            e,
            minutes_since(t_zero, e.occurred_at),
            abnormal_flags(e, thresholds),
        )
        for e in entries
    ] + [
        TimelineRow("infusion_event", ev.occurred_at, ev, minutes_since(t_zero, ev.occurred_at), {})
        for a in administrations
        for ev in a.events
    ]
    # Sorted by when it happened, not when it was typed; ties keep vitals before the event.
    rows.sort(key=lambda r: (r.occurred_at, r.kind != "monitoring", r.entry.id))

    editable = not infusion_session.is_signed
    if editable:
        monitoring_form = monitoring_form or _fresh_monitoring_form(administrations)
        administration_form = administration_form or _fresh_administration_form(infusion_session)
        event_forms = event_forms or {}
        for administration in administrations:
            if _takes_events(administration) and administration.id not in event_forms:
                event_forms[administration.id] = InfusionEventForm(
                    formdata=None, prefix=f"event-{administration.id}"
                )
        if end_form is None:
            end_form = EndSessionForm(formdata=None, version=str(infusion_session.version))
            if infusion_session.discharged_at:
                # Ending is recorded once and may be corrected: show what is on the record. The
                # time shown is the recorded one, not "now": a correction of the driver's name
                # must not move the discharge time.
                end_form.discharged_at.data = to_local(infusion_session.discharged_at).replace(
                    tzinfo=None
                )
                end_form.time_shown.data = ""
                end_form.discharged_with.data = infusion_session.discharged_with
    context: dict[str, Any] = {
        "infusion_session": infusion_session,
        "patient": infusion_session.patient,
        "risk": _latest_risk_score(infusion_session.patient_id),
        "administrations": administrations,
        "timeline": rows,
        "t_zero": t_zero,
        "vitals_due": next_vitals_due(
            infusion_session,
            entries,
            administrations,
            current_app.config["VITALS_SCHEDULE"],
            utcnow(),
        ),
        "editable": editable,
        "monitoring_form": monitoring_form,
        "administration_form": administration_form,
        "event_forms": event_forms or {},
        "end_form": end_form,
        "focus": focus,
        "InfusionEventKind": InfusionEventKind,
        "Method": Method,
    }
    context.update(closing_context(infusion_session, administrations))
    return render_template("sessions/chart.html", **context)


def _latest_risk_score(patient_id: int) -> Any:
    # Imported late: clinic.patients.services imports the session models, hence this package.
    from clinic.patients.services import latest_risk_score

    return latest_risk_score(patient_id)


def _takes_events(administration: Administration) -> bool:
    if administration.method != Method.INFUSION or administration.is_voided:
        return False
    return not any(
        e.kind == InfusionEventKind.STOPPED and not e.is_voided for e in administration.events
    )


def _fresh_monitoring_form(administrations: list[Administration]) -> MonitoringForm:
    form = MonitoringForm(formdata=None)
    # The phase is a convenience default; nothing about a dose is read or derived from it.
    dosing_started = any(not a.is_voided for a in administrations)
    form.phase.data = (Phase.DURING if dosing_started else Phase.BASELINE).value
    return form


def _fresh_administration_form(infusion_session: InfusionSession) -> AdministrationForm:
    form = AdministrationForm(formdata=None, prefix=ADMINISTRATION_PREFIX)
    form.route.data = infusion_session.route.value
    form.ordering_clinician_id.choices = _staff_choices(Role.CLINICIAN, "—")
    return form


@bp.route("/<int:session_id>")
@roles_required(*CHARTING_ROLES)
def chart(session_id: int) -> str:
    infusion_session = get_session_or_404(session_id)
    # The cursor waits in the first vitals field: after each saved entry this page comes back.
    page = _chart_page(infusion_session, focus="monitoring")
    record_session_view(current_user, infusion_session, "session_viewed")
    db.session.commit()
    return page


def _refused(session_id: int, message: str) -> tuple[str, int]:
    """The post conflicts with the record (signed, infusion stopped): nothing stored, say why.

    The chart is shown again, as it now stands, rather than a redirect: a 409 is not followed
    by browsers, and the nurse must see the message and the current record. A post to a session
    already signed gets this answer before its input is validated (a signed chart has no form
    to show the input in); the service's row lock still catches a signature landing meanwhile.
    """
    db.session.rollback()
    flash(message, "danger")
    return _viewed_chart(get_session_or_404(session_id)), 409


def _rerender(infusion_session_id: int, **forms: Any) -> tuple[str, int]:
    db.session.rollback()
    return _viewed_chart(get_session_or_404(infusion_session_id), **forms), 422


def _viewed_chart(infusion_session: InfusionSession, **forms: Any) -> str:
    """The chart shown again after a refused post is a view of the record too (invariant 6).

    Only the view is recorded: the refused change was rolled back before."""
    page = _chart_page(infusion_session, **forms)
    record_session_view(current_user, infusion_session, "session_viewed")
    db.session.commit()
    return page


def _back_to(session_id: int, anchor: str) -> Response:
    return redirect(url_for("sessions.chart", session_id=session_id, _anchor=anchor))


# --- administrations -------------------------------------------------------------------------


@bp.route("/<int:session_id>/administrations", methods=["POST"])
@roles_required(*CHARTING_ROLES)
def add_administration(session_id: int) -> Response | tuple[Any, int]:
    if session_status_or_404(session_id) == SessionStatus.SIGNED:
        return _refused(session_id, SessionLockedError.message)
    form = AdministrationForm(prefix=ADMINISTRATION_PREFIX)
    form.ordering_clinician_id.choices = _staff_choices(Role.CLINICIAN, "—")
    if not form.validate_on_submit():
        return _rerender(session_id, administration_form=form, focus="administrations")
    details = chart_services.AdministrationDetails(
        drug=(form.drug.data or "").strip(),
        route=Route(form.route.data),
        method=Method(form.method.data),
        dose_amount=form.dose_amount.data,
        dose_unit=form.dose_unit.data,
        rate_amount=form.rate_amount.data,
        rate_unit=form.rate_unit.data or None,
        started_at=entered_time(form, form.started_at),
        ended_at=_utc(form.ended_at.data),
        site=(form.site.data or "").strip(),
        lot_number=(form.lot_number.data or "").strip(),
        ordering_clinician_id=form.ordering_clinician_id.data,
        note=(form.note.data or "").strip(),
    )
    try:
        saved = chart_services.record_administration(
            current_user, session_id, details, form.submission()
        )
    except SessionLockedError as error:
        return _refused(session_id, error.message)
    except FieldError as error:
        show_on_form(form, error, "drug")
        return _rerender(session_id, administration_form=form, focus="administrations")
    db.session.commit()
    if saved.created:
        flash("Administration recorded.", "success")
    return _back_to(session_id, "administrations")


@bp.route("/<int:session_id>/administrations/<int:administration_id>/events", methods=["POST"])
@roles_required(*CHARTING_ROLES)
def add_infusion_event(session_id: int, administration_id: int) -> Response | tuple[Any, int]:
    if session_status_or_404(session_id) == SessionStatus.SIGNED:
        return _refused(session_id, SessionLockedError.message)
    form = InfusionEventForm(prefix=f"event-{administration_id}")
    if not form.validate_on_submit():
        return _rerender(session_id, event_forms={administration_id: form}, focus="administrations")
    details = chart_services.InfusionEventDetails(
        kind=InfusionEventKind(form.kind.data),
        occurred_at=entered_time(form, form.occurred_at),
        rate_amount=form.rate_amount.data,
        rate_unit=form.rate_unit.data or None,
        bolus_amount=form.bolus_amount.data,
        bolus_unit=form.bolus_unit.data or None,
        note=(form.note.data or "").strip(),
    )
    try:
        saved = chart_services.record_infusion_event(
            current_user, session_id, administration_id, details, form.submission()
        )
    except SessionLockedError as error:
        return _refused(session_id, error.message)
    except FieldError as error:
        return _refused(session_id, error.message)
    db.session.commit()
    if saved.created:
        flash(f"{details.kind.label} recorded.", "success")
    return _back_to(session_id, f"administration-{administration_id}")


# --- monitoring ----------------------------------------------------------------------------


def _optional_int(value: str | None) -> int | None:
    return None if value in (None, "") else int(value)


@bp.route("/<int:session_id>/monitoring", methods=["POST"])
@roles_required(*CHARTING_ROLES)
def add_monitoring(session_id: int) -> Response | tuple[Any, int]:
    if session_status_or_404(session_id) == SessionStatus.SIGNED:
        return _refused(session_id, SessionLockedError.message)
    form = MonitoringForm()
    if not form.validate_on_submit():
        return _rerender(session_id, monitoring_form=form, focus="monitoring")
    details = chart_services.MonitoringDetails(
        phase=Phase(form.phase.data),
        occurred_at=entered_time(form, form.occurred_at),
        systolic_bp=form.systolic_bp.data,
        diastolic_bp=form.diastolic_bp.data,
        heart_rate=form.heart_rate.data,
        spo2=form.spo2.data,
        respiratory_rate=form.respiratory_rate.data,
        temperature_c=form.temperature_c.data,
        sedation_moaas=_optional_int(form.sedation_moaas.data),
        dissociation=Dissociation(form.dissociation.data) if form.dissociation.data else None,
        nausea=Nausea(form.nausea.data) if form.nausea.data else None,
        pain_nrs=_optional_int(form.pain_nrs.data),
        note=(form.note.data or "").strip(),
    )
    try:
        chart_services.record_monitoring(current_user, session_id, details, form.submission())
    except SessionLockedError as error:
        return _refused(session_id, error.message)
    except FieldError as error:
        show_on_form(form, error)
        return _rerender(session_id, monitoring_form=form, focus="monitoring")
    db.session.commit()
    # Straight back to an empty form with the cursor in its first field: the next set of vitals.
    # No #fragment: a browser skips `autofocus` on a page opened at a fragment's target (HTML
    # autofocus rules), and the focused field scrolls into view by itself.
    return redirect(url_for("sessions.chart", session_id=session_id))


# --- ending --------------------------------------------------------------------------------


@bp.route("/<int:session_id>/end", methods=["POST"])
@roles_required(*CHARTING_ROLES)
def end(session_id: int) -> Response | tuple[Any, int]:
    if session_status_or_404(session_id) == SessionStatus.SIGNED:
        return _refused(session_id, SessionLockedError.message)
    form = EndSessionForm()
    if not form.validate_on_submit():
        return _rerender(session_id, end_form=form, focus="ending")
    try:
        chart_services.end_session(
            current_user,
            session_id,
            entered_time(form, form.discharged_at),
            form.discharged_with.data or "",
            expected_version=int(form.version.data or 0),
        )
    except SessionLockedError as error:
        return _refused(session_id, error.message)
    except chart_services.StaleSessionError as error:
        db.session.rollback()
        show_on_form(form, error)
        # Saving again, having seen the record as it now is, is a deliberate correction.
        form.version.data = str(get_session_or_404(session_id).version)
        return _rerender(session_id, end_form=form, focus="ending")
    except FieldError as error:
        show_on_form(form, error, "discharged_with")
        return _rerender(session_id, end_form=form, focus="ending")
    db.session.commit()
    flash("Discharge recorded.", "success")
    return _back_to(session_id, "ending")
