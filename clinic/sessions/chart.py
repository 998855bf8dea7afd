"""The chart page, assembled in one place: every view that shows the chart renders it here.

A view whose form was refused hands that form over in `ShownAgain`, so the chart shows the
person's input with the message next to the field; every other form on the page is fresh. A
refused post answers with the chart as the record now stands (422 for input to correct, 409 for
a conflict such as a signed session), never a redirect that would lose what was typed.

A save is confirmed where the person acted (`Confirmation`): a short status by the form and the
new or changed row marked. After Post/Redirect/Get it waits in the session for the next chart
shown; a post sent by the page's script (static/js/chart.js, header `X-Chart-Part`) is answered
with the chart itself, and the script swaps in the parts that changed: one request, the scroll
and the other forms left as they were.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy.orm import joinedload, selectinload
from werkzeug.wrappers import Response

from clinic.auth.models import Role
from clinic.clinic_time import to_local
from clinic.clinical_numbers import decimal_text
from clinic.database import utcnow
from clinic.extensions import db
from clinic.form_choices import as_choices
from clinic.instruments.services import current_version
from clinic.orders.models import MedicationOrder
from clinic.orders.services import orders_in_force
from clinic.sessions.adverse_event_section import adverse_event_section
from clinic.sessions.course_place import course_place
from clinic.sessions.deviations import deviations_of, doses_by_order
from clinic.sessions.forms.administrations import AdministrationForm, InfusionEventForm
from clinic.sessions.forms.adverse_events import AdverseEventForm, ResolveAdverseEventForm
from clinic.sessions.forms.deviations import AcknowledgeDeviationForm
from clinic.sessions.forms.discharge import CancelForm, ChecklistForm, EndSessionForm
from clinic.sessions.forms.discharge_assessment import DischargeAssessmentForm
from clinic.sessions.forms.monitoring import MonitoringForm
from clinic.sessions.forms.scores import ScoreForm, score_form
from clinic.sessions.forms.screening import ScreeningForm, ScreeningOverrideForm
from clinic.sessions.forms.signoff import AddendumForm, SignForm
from clinic.sessions.loading import get_session_or_404
from clinic.sessions.models import (
    Addendum,
    Administration,
    InfusionEvent,
    InfusionEventKind,
    InfusionSession,
    Instrument,
    Method,
    MonitoringEntry,
    Phase,
    SessionStatus,
    Signature,
)
from clinic.sessions.route_profiles import (
    checkpoint_states,
    observation,
    route_profile,
    vitals_schedule,
)
from clinic.sessions.score_rows import ScoreRow, ScoresPart, scores_part
from clinic.sessions.score_rows import score_rows as score_rows  # the print page reads it here
from clinic.sessions.screening_section import screening_section
from clinic.sessions.services.adverse_events import adverse_events_of
from clinic.sessions.services.discharge import ChecklistRow, checklist_rows
from clinic.sessions.services.discharge_assessment import (
    active_instructions,
    assessments_of,
    latest_assessment,
)
from clinic.sessions.services.scores import latest_risk_score
from clinic.sessions.services.screening import screening_of
from clinic.sessions.services.signoff import sign_off_problems, signature_matches
from clinic.sessions.services.staff import staff_choices
from clinic.sessions.services.viewing import record_session_view
from clinic.sessions.vitals import abnormal_flags, first_dosing_time, minutes_since, next_vitals_due

# Prefixed so its fields' ids (note, submission key) do not repeat the monitoring form's.
ADMINISTRATION_PREFIX = "administration"

# Built once: the chart reads them on every view.
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


@dataclass
class ShownAgain:
    """The forms of this request that were refused, shown again with what the person typed."""

    monitoring_form: MonitoringForm | None = None
    administration_form: AdministrationForm | None = None
    event_forms: dict[int, InfusionEventForm] = field(default_factory=dict)
    end_form: EndSessionForm | None = None
    pain_form: ScoreForm | None = None
    checklist_forms: dict[int, ChecklistForm] = field(default_factory=dict)
    cancel_form: CancelForm | None = None
    sign_form: SignForm | None = None
    addendum_form: AddendumForm | None = None
    deviation_forms: dict[int, AcknowledgeDeviationForm] = field(default_factory=dict)
    screening_form: ScreeningForm | None = None
    screening_override_form: ScreeningOverrideForm | None = None
    adverse_event_form: AdverseEventForm | None = None
    assessment_form: DischargeAssessmentForm | None = None
    resolve_forms: dict[int, ResolveAdverseEventForm] = field(default_factory=dict)
    # What the refused signature was missing, as the service found it under the row lock.
    sign_problems: list[str] | None = None

    def forms(self) -> Iterator[FlaskForm]:
        singles = (
            self.monitoring_form,
            self.administration_form,
            self.end_form,
            self.pain_form,
            self.cancel_form,
            self.sign_form,
            self.addendum_form,
            self.screening_form,
            self.screening_override_form,
            self.adverse_event_form,
            self.assessment_form,
        )
        yield from (form for form in singles if form is not None)
        yield from self.resolve_forms.values()
        yield from self.event_forms.values()
        yield from self.deviation_forms.values()
        yield from self.checklist_forms.values()


@dataclass(frozen=True)
class Confirmation:
    """A save shown where it was made: `message` in the status slot `part` (templates/sessions/
    _saved.html), and the element `row` (e.g. "monitoring-12") marked and brought into view."""

    part: str
    message: str
    row: str = ""


# Where a confirmation waits between a post and the chart its redirect shows.
CONFIRMATION_KEY = "chart_confirmation"
# The header the page's script sends with a post it will swap into the page itself.
PART_HEADER = "X-Chart-Part"


@dataclass(frozen=True)
class TimelineRow:
    """One line of the flowsheet: a monitoring entry or an infusion event, by when it happened."""

    kind: str  # "monitoring" | "infusion_event"
    occurred_at: datetime
    entry: MonitoringEntry | InfusionEvent
    minutes: int | None
    flags: dict[str, str]


@dataclass
class AfterDosing:
    """The part of the chart after dosing (_after_dosing.html): scores, checklist, sign-off,
    addenda. One name in the chart's context, so none of its names collide."""

    infusion_session: InfusionSession
    editable: bool
    can_sign: bool
    scores: list[ScoreRow]
    risk_flag: bool
    instruments: ScoresPart
    checklist: list[ChecklistRow]
    sign_problems: list[str]
    signature: Signature | None
    signature_matches: bool | None
    addenda: list[Addendum]
    pain_form: ScoreForm | None = None
    checklist_forms: dict[int, ChecklistForm] = field(default_factory=dict)
    cancel_form: CancelForm | None = None
    sign_form: SignForm | None = None
    addendum_form: AddendumForm | None = None


# --- what the chart and the print page read ---------------------------------------------------


def administrations_of(session_id: int) -> list[Administration]:
    return list(db.session.scalars(ADMINISTRATIONS_OF_SESSION, {"session_id": session_id}).unique())


def monitoring_of(session_id: int) -> list[MonitoringEntry]:
    return list(db.session.scalars(MONITORING_OF_SESSION, {"session_id": session_id}).unique())


def addenda_of(infusion_session: InfusionSession) -> list[Addendum]:
    if infusion_session.signature is None:
        return []  # addenda are only ever added to signed sessions
    return list(
        db.session.scalars(
            sa.select(Addendum)
            .where(Addendum.session_id == infusion_session.id)
            .order_by(Addendum.created_at, Addendum.id)
        ).unique()
    )


def signature_check(infusion_session: InfusionSession) -> tuple[Signature | None, bool | None]:
    """The signature (loaded with the session) and whether the record still matches it."""
    signature = infusion_session.signature
    return signature, (signature_matches(signature) if signature else None)


def _timeline(
    entries: list[MonitoringEntry], administrations: list[Administration], t_zero: datetime | None
) -> list[TimelineRow]:
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
    return rows


def _takes_events(administration: Administration) -> bool:
    if administration.method != Method.INFUSION or administration.is_voided:
        return False
    return not any(
        e.kind == InfusionEventKind.STOPPED and not e.is_voided for e in administration.events
    )


def fresh_administration_form(infusion_session: InfusionSession) -> AdministrationForm:
    form = AdministrationForm(formdata=None, prefix=ADMINISTRATION_PREFIX)
    form.route.data = infusion_session.route.value
    form.ordering_clinician_id.choices = staff_choices(Role.CLINICIAN, "—")
    form.order_id.choices = order_choices(infusion_session.id)
    form.adverse_event_id.choices = adverse_event_choices(infusion_session.id)
    return form


def instruction_choices() -> list[Any]:
    """The current post-treatment instruction texts, by title and version."""
    return as_choices([("", "Choose…")] + [(text.id, text.label) for text in active_instructions()])


def _assessment_form(shown: DischargeAssessmentForm | None) -> DischargeAssessmentForm:
    form = shown or DischargeAssessmentForm(formdata=None, prefix="assessment")
    form.instruction_id.choices = instruction_choices()
    return form


def adverse_event_choices(session_id: int) -> list[Any]:
    """The session's adverse events a rescue medicine may be given for."""
    return as_choices(
        [("", "—")]
        + [
            (event.id, f"{event.type.label} from {to_local(event.occurred_at):%H:%M}")
            for event in adverse_events_of(session_id)
            if not event.is_voided
        ]
    )


def session_orders(session_id: int) -> list[MedicationOrder]:
    """The orders in force the session may carry out: its course's and its own."""
    course_id = db.session.scalar(
        sa.select(InfusionSession.course_id).where(InfusionSession.id == session_id)
    )
    return orders_in_force(course_id, session_id)


def order_choices(session_id: int) -> list[Any]:
    """The orders in force as the administration form's choices, named as written (for
    reading: nothing of them is put into the form's fields)."""
    return as_choices(
        [("", "Choose…")]
        + [
            (
                order.id,
                f"{order.kind.label}: {order.drug} {decimal_text(order.dose_amount)} "
                f"{order.dose_unit}, {order.route.label} (order {order.id})",
            )
            for order in session_orders(session_id)
        ]
    )


@dataclass(frozen=True)
class DeviationRow:
    """An administration that differs from its order, what differs, and its acknowledgement
    (or the form to give it)."""

    administration: Administration
    differences: list[str]
    form: AcknowledgeDeviationForm | None


def deviation_rows(
    administrations: list[Administration], editable: bool, shown_again: ShownAgain
) -> list[DeviationRow]:
    rows = []
    for administration in administrations:
        differences = deviations_of(administration, administration.order)
        if administration.is_voided or not differences:
            continue
        form = None
        if editable and administration.deviation_acknowledged_at is None:
            form = shown_again.deviation_forms.get(administration.id) or AcknowledgeDeviationForm(
                formdata=None, prefix=f"deviation-{administration.id}"
            )
        rows.append(DeviationRow(administration, differences, form))
    return rows


def _fresh_monitoring_form(administrations: list[Administration]) -> MonitoringForm:
    form = MonitoringForm(formdata=None)
    # The phase is a convenience default; nothing about a dose is read or derived from it.
    dosing_started = any(not a.is_voided for a in administrations)
    form.phase.data = (Phase.DURING if dosing_started else Phase.BASELINE).value
    return form


def _end_form(infusion_session: InfusionSession) -> EndSessionForm:
    form = EndSessionForm(formdata=None, version=str(infusion_session.version))
    if infusion_session.discharged_at:
        # Ending is recorded once and may be corrected: show what is on the record. The time
        # shown is the recorded one, not "now": a correction of the driver's name must not move
        # the discharge time.
        form.discharged_at.data = to_local(infusion_session.discharged_at).replace(tzinfo=None)
        form.time_shown.data = ""
        form.discharged_with.data = infusion_session.discharged_with
    return form


def _after_dosing(
    infusion_session: InfusionSession,
    administrations: list[Administration],
    shown_again: ShownAgain,
) -> AfterDosing:
    instruments = scores_part(infusion_session.id, first_dosing_time(administrations))
    scores = instruments.rows
    signature, matches = signature_check(infusion_session)
    editable = not infusion_session.is_signed
    checklist = checklist_rows(infusion_session.id)
    section = AfterDosing(
        infusion_session=infusion_session,
        editable=editable,
        can_sign=current_user.role == Role.CLINICIAN,
        scores=scores,
        risk_flag=instruments.risk_flag,
        instruments=instruments,
        checklist=checklist,
        sign_problems=(
            shown_again.sign_problems
            or sign_off_problems(infusion_session, checklist, administrations)
            if editable
            else []
        ),
        signature=signature,
        signature_matches=matches,
        addenda=addenda_of(infusion_session),
    )
    if editable:
        pain = current_version(Instrument.PAIN_NRS)
        if pain is not None:
            section.pain_form = shown_again.pain_form or score_form(pain, formdata=None)
        section.checklist_forms = {
            row.item.id: shown_again.checklist_forms.get(row.item.id)
            or ChecklistForm(
                formdata=None,
                item=row.item,
                shown_state=str(row.current.id) if row.current else "",
            )
            for row in checklist
        }
        section.cancel_form = shown_again.cancel_form or CancelForm(formdata=None)
        section.sign_form = shown_again.sign_form or SignForm(formdata=None)
    else:
        section.addendum_form = shown_again.addendum_form or AddendumForm(formdata=None)
    return section


def render_chart(
    infusion_session: InfusionSession,
    shown_again: ShownAgain | None = None,
    focus: str = "",
    confirmation: Confirmation | None = None,
) -> str:
    """The chart page; forms in `shown_again` carry the person's refused input."""
    shown_again = shown_again or ShownAgain()
    confirmation = confirmation or _waiting_confirmation(infusion_session.id)
    for refused in shown_again.forms():
        if hasattr(refused, "renew_submission_key"):
            # It stored nothing: its next post is a new entry, not a retry of this one.
            refused.renew_submission_key()
    administrations = administrations_of(infusion_session.id)
    entries = monitoring_of(infusion_session.id)
    t_zero = first_dosing_time(administrations)
    editable = not infusion_session.is_signed
    event_forms: dict[int, InfusionEventForm] = {}
    if editable:
        event_forms = {
            administration.id: shown_again.event_forms.get(administration.id)
            or InfusionEventForm(formdata=None, prefix=f"event-{administration.id}")
            for administration in administrations
            if _takes_events(administration)
        }
    deviations = deviation_rows(administrations, editable, shown_again)
    profile = route_profile(current_app.config["ROUTE_PROFILES"], infusion_session.route.value)
    now = utcnow()
    context: dict[str, Any] = {
        "infusion_session": infusion_session,
        "patient": infusion_session.patient,
        "course_place": course_place(infusion_session),
        "orders": session_orders(infusion_session.id),
        "doses_given": doses_by_order(administrations),
        "new_order_url": (
            url_for("sessions.new_session_order", session_id=infusion_session.id)
            if current_user.role == Role.CLINICIAN
            and infusion_session.status == SessionStatus.IN_PROGRESS
            else None
        ),
        "deviations": deviations,
        "deviation_ids": {row.administration.id for row in deviations},
        "can_acknowledge": current_user.role == Role.CLINICIAN,
        "risk": latest_risk_score(infusion_session.patient_id),
        "administrations": administrations,
        "timeline": _timeline(entries, administrations, t_zero),
        "t_zero": t_zero,
        "vitals_due": next_vitals_due(
            infusion_session,
            entries,
            administrations,
            vitals_schedule(profile, current_app.config["VITALS_SCHEDULE"], t_zero, now),
            now,
        ),
        "observation": observation(profile, administrations),
        "checkpoints": checkpoint_states(profile, infusion_session, entries, administrations, now),
        "can_override": current_user.role == Role.CLINICIAN,
        "assessment": latest_assessment(infusion_session.id),
        "assessments": assessments_of(infusion_session.id),
        "assessment_form": _assessment_form(shown_again.assessment_form) if editable else None,
        "min_aldrete": current_app.config["DISCHARGE_MIN_ALDRETE"],
        "adverse": adverse_event_section(
            adverse_events_of(infusion_session.id),
            administrations,
            editable=editable,
            shown_form=shown_again.adverse_event_form,
            shown_resolve_forms=shown_again.resolve_forms,
        ),
        "screening": screening_section(
            screening_of(infusion_session.id),
            entries,
            t_zero,
            editable=editable,
            can_override=current_user.role == Role.CLINICIAN,
            shown_form=shown_again.screening_form,
            shown_override_form=shown_again.screening_override_form,
        ),
        "editable": editable,
        "monitoring_form": (
            shown_again.monitoring_form or _fresh_monitoring_form(administrations)
            if editable
            else None
        ),
        "administration_form": (
            shown_again.administration_form or fresh_administration_form(infusion_session)
            if editable
            else None
        ),
        "event_forms": event_forms,
        "end_form": (shown_again.end_form or _end_form(infusion_session)) if editable else None,
        "focus": focus,
        "confirmation": confirmation,
        "InfusionEventKind": InfusionEventKind,
        "Method": Method,
        "after": _after_dosing(infusion_session, administrations, shown_again),
    }
    return render_template("sessions/chart.html", **context)


# --- what a view answers with -------------------------------------------------------------------


def show_chart(
    infusion_session: InfusionSession,
    shown_again: ShownAgain | None = None,
    focus: str = "",
    confirmation: Confirmation | None = None,
) -> str:
    """The chart, recorded as a view of the record (invariant 6), committed."""
    page = render_chart(infusion_session, shown_again, focus, confirmation)
    record_session_view(current_user, infusion_session, "session_viewed")
    db.session.commit()
    return page


def chart_again(session_id: int, shown_again: ShownAgain, focus: str = "") -> tuple[str, int]:
    """A post whose input must be corrected: nothing stored, the chart with the input kept."""
    db.session.rollback()
    return show_chart(get_session_or_404(session_id), shown_again, focus), 422


def chart_refusing(
    session_id: int, message: str, shown_again: ShownAgain | None = None
) -> tuple[str, int]:
    """The post conflicts with the record (signed, infusion stopped): nothing stored, say why.

    The chart is shown again, as it now stands, rather than a redirect: a 409 is not followed
    by browsers, and the nurse must see the message and the current record. A post to a session
    already signed gets this answer before its input is validated (a signed chart has no form
    to show the input in); the service's row lock still catches a signature landing meanwhile.
    """
    db.session.rollback()
    flash(message, "danger")
    return show_chart(get_session_or_404(session_id), shown_again), 409


def back_to(session_id: int, anchor: str = "") -> Response:
    """Post/Redirect/Get: back to the chart, at the section where the person acted."""
    return redirect(url_for("sessions.chart", session_id=session_id, _anchor=anchor or None))


def wants_part() -> bool:
    """The post came from the page's script, which swaps the answer into the page."""
    return request.headers.get(PART_HEADER) == "1"


def saved(
    session_id: int, confirmation: Confirmation | None, anchor: str = "", focus: str = ""
) -> Response | tuple[str, int]:
    """The answer to a stored post (committed): the chart with the save confirmed in place for
    the page's script, else a redirect to the chart, which shows the confirmation."""
    if wants_part():
        page = show_chart(get_session_or_404(session_id), focus=focus, confirmation=confirmation)
        return page, 200
    if confirmation is not None:
        session[CONFIRMATION_KEY] = {"session_id": session_id, **asdict(confirmation)}
    return back_to(session_id, anchor)


def _waiting_confirmation(session_id: int) -> Confirmation | None:
    waiting = session.get(CONFIRMATION_KEY)
    if not isinstance(waiting, dict) or waiting.get("session_id") != session_id:
        return None
    session.pop(CONFIRMATION_KEY)
    return Confirmation(
        str(waiting.get("part", "")), str(waiting.get("message", "")), str(waiting.get("row", ""))
    )
