"""Scores, checklist, cancelling, voiding, sign-off, addenda and the print page of the chart.

Views are thin: validate the form, call one service in closing_services, commit once, redirect
to the chart's section (Post/Redirect/Get). A refused form re-renders the whole chart through the
chart module's renderer with the user's input kept and the message next to the field (422); a
signed session refuses with 409 and a message, never a 500.

The chart template includes templates/sessions/_closing.html and merges `closing_context()` into
its context. A rejected form of this module reaches that context through `flask.g`, so the chart
renderer needs no parameter for each of these forms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy.orm import joinedload, selectinload
from werkzeug.wrappers import Response

from clinic.auth.access import roles_required
from clinic.auth.models import Role
from clinic.clinic_time import format_local
from clinic.clinical_numbers import decimal_text
from clinic.database import utcnow
from clinic.extensions import db
from clinic.field_errors import FieldError, show_on_form
from clinic.sessions import bp
from clinic.sessions import closing_services as closing
from clinic.sessions.closing_forms import (
    AddendumForm,
    CancelForm,
    ChecklistForm,
    PainForm,
    Phq9Form,
    SignForm,
    VoidForm,
)
from clinic.sessions.entry_time import OneTimeForm, entered_time
from clinic.sessions.guards import SessionLockedError, SessionNotFoundError
from clinic.sessions.models import (
    Addendum,
    Administration,
    ChecklistCompletion,
    ChecklistItem,
    InfusionSession,
    Instrument,
    MonitoringEntry,
    Score,
    ScoreTiming,
    SessionStatus,
    Signature,
)
from clinic.sessions.scoring import PHQ9_ANSWERS, PHQ9_ITEMS, PHQ9_STEM, phq9_band

CHARTING_ROLES = (Role.NURSE, Role.CLINICIAN)


@dataclass(frozen=True)
class ScoreRow:
    score: Score
    band: str | None  # PHQ-9 only


@dataclass
class ClosingSection:
    """Everything _closing.html shows; one name in the chart's context, so none collide."""

    infusion_session: InfusionSession
    editable: bool
    can_sign: bool
    scores: list[ScoreRow]
    risk_flag: bool
    checklist: list[closing.ChecklistRow]
    sign_problems: list[str]
    signature: Signature | None
    signature_matches: bool | None
    addenda: list[Addendum]
    pain_form: PainForm | None = None
    checklist_forms: dict[int, ChecklistForm] = field(default_factory=dict)
    cancel_form: CancelForm | None = None
    sign_form: SignForm | None = None
    addendum_form: AddendumForm | None = None
    phq9_items: tuple[str, ...] = PHQ9_ITEMS
    phq9_stem: str = PHQ9_STEM
    phq9_answers: tuple[tuple[int, str], ...] = PHQ9_ANSWERS


# --- what the chart and the print page read ---------------------------------------------------


def _overrides() -> dict[str, Any]:
    """Forms of this request that were refused: shown again with the user's input."""
    return g.setdefault("closing_overrides", {})


# Built once: the chart reads them on every view.
SCORES_OF_SESSION = (
    sa.select(Score)
    .where(Score.session_id == sa.bindparam("session_id"))
    .order_by(Score.occurred_at, Score.id)
)


def _scores(session_id: int) -> list[ScoreRow]:
    scores = db.session.scalars(SCORES_OF_SESSION, {"session_id": session_id}).unique()
    return [
        ScoreRow(s, phq9_band(s.total) if s.instrument == Instrument.PHQ9 else None) for s in scores
    ]


def _addenda(infusion_session: InfusionSession) -> list[Addendum]:
    if infusion_session.signature is None:
        return []  # addenda are only ever added to signed sessions (closing.add_addendum)
    return list(
        db.session.scalars(
            sa.select(Addendum)
            .where(Addendum.session_id == infusion_session.id)
            .order_by(Addendum.created_at, Addendum.id)
        ).unique()
    )


def _signature(infusion_session: InfusionSession) -> tuple[Signature | None, bool | None]:
    # Loaded with the session (get_session_or_404), not read again.
    signature = infusion_session.signature
    return signature, (closing.signature_matches(signature) if signature else None)


def closing_context(
    infusion_session: InfusionSession, administrations: list[Administration] | None = None
) -> dict[str, Any]:
    """What templates/sessions/_closing.html needs, merged into the chart page's context.

    `administrations` are the session's, when the chart has read them already.
    """
    overrides = _overrides()
    scores = _scores(infusion_session.id)
    signature, matches = _signature(infusion_session)
    editable = infusion_session.status != SessionStatus.SIGNED
    checklist = closing.checklist_rows(infusion_session.id)
    section = ClosingSection(
        infusion_session=infusion_session,
        editable=editable,
        can_sign=current_user.role == Role.CLINICIAN,
        scores=scores,
        risk_flag=any(row.score.risk_flag and not row.score.is_voided for row in scores),
        checklist=checklist,
        sign_problems=(
            overrides.get("sign_problems")
            or closing.sign_off_problems(infusion_session, checklist, administrations)
            if editable
            else []
        ),
        signature=signature,
        signature_matches=matches,
        addenda=_addenda(infusion_session),
    )
    if editable:
        section.pain_form = overrides.get("pain_form") or PainForm(formdata=None)
        refused = overrides.get("checklist_forms", {})
        section.checklist_forms = {
            row.item.id: refused.get(row.item.id)
            or ChecklistForm(
                formdata=None,
                item=row.item,
                shown_state=str(row.current.id) if row.current else "",
            )
            for row in checklist
        }
        section.cancel_form = overrides.get("cancel_form") or CancelForm(formdata=None)
        section.sign_form = overrides.get("sign_form") or SignForm(formdata=None)
    else:
        section.addendum_form = overrides.get("addendum_form") or AddendumForm(formdata=None)
    return {"closing": section}


@bp.app_template_global("may_void")
def may_void_entry(infusion_session: InfusionSession, entry: Any) -> bool:
    return not infusion_session.is_signed and closing.may_void(current_user, entry)


# --- writing ---------------------------------------------------------------------------------


def _chart_views() -> Any:
    # Imported late: the chart module imports closing_context from this one.
    from clinic.sessions import views as chart_views

    return chart_views


def _rerender(session_id: int, **overrides: Any) -> tuple[str, int]:
    _overrides().update(overrides)
    return _chart_views()._rerender(session_id)


def _refused(session_id: int, message: str, **overrides: Any) -> tuple[str, int]:
    _overrides().update(overrides)
    return _chart_views()._refused(session_id, message)


def _back_to(session_id: int, anchor: str) -> Response:
    return redirect(url_for("sessions.chart", session_id=session_id, _anchor=anchor))


def _load(session_id: int) -> InfusionSession:
    infusion_session = db.session.get(InfusionSession, session_id)
    if infusion_session is None:
        abort(404)
    return infusion_session


def _write(
    session_id: int,
    form: FlaskForm,
    override_name: str,
    anchor: str,
    write: Callable[[], str | None],
    override: Any = None,
    page: Callable[[], tuple[str, int]] | None = None,
) -> Response | tuple[str, int]:
    """Validate, write through one service, commit, redirect; or show the form again.

    `write` returns the message to flash (None for a repeated post, which stored nothing new).
    A refused form comes back on the chart (`override` is what the chart needs to show it, the
    form itself by default), or on its own page when the form has one (`page`).
    """
    shown_again = {override_name: form if override is None else override}

    def show_again() -> tuple[str, int]:
        if isinstance(form, OneTimeForm):
            form.renew_submission_key()
        return page() if page is not None else _rerender(session_id, **shown_again)

    if not form.validate_on_submit():
        if override_name != "addendum_form" and _load(session_id).is_signed:
            # Fixing the input would not help: say why nothing can be saved.
            return _refused(session_id, SessionLockedError.message, **shown_again)
        return show_again()
    try:
        message = write()
    except SessionLockedError:
        return _refused(session_id, SessionLockedError.message, **shown_again)
    except (SessionNotFoundError, closing.EntryNotFoundError):
        db.session.rollback()
        abort(404)
    except (closing.VoidNotAllowedError, PermissionError):
        db.session.rollback()
        abort(403)
    except FieldError as error:
        show_on_form(form, error)
        db.session.rollback()
        return show_again()
    db.session.commit()
    if message:
        flash(message, "success")
    return _back_to(session_id, anchor)


def _timing(form: Phq9Form | PainForm) -> ScoreTiming:
    return ScoreTiming(form.timing.data)


@bp.route("/<int:session_id>/scores/phq9", methods=["GET", "POST"])
@roles_required(*CHARTING_ROLES)
def add_phq9(session_id: int) -> Response | tuple[str, int] | str:
    """The PHQ-9 has its own page: 27 radio buttons would bury the chart on a tablet."""
    infusion_session = _load(session_id)
    form = Phq9Form()
    if request.method == "GET":
        if infusion_session.is_signed:
            return _refused(session_id, SessionLockedError.message)
        return _phq9_page(infusion_session, form)[0]

    def write() -> str | None:
        saved = closing.record_phq9(
            current_user,
            session_id,
            timing=_timing(form),
            occurred_at=entered_time(form, form.occurred_at),
            answers=form.answers,
            submission_key=form.submission(),
        )
        if not saved.created:
            return None
        score = saved.entry
        message = f"PHQ-9 recorded: {score.total} ({phq9_band(score.total)})."
        if score.risk_flag:
            message += " Item 9 is above 0: suicide risk flagged; tell the clinician now."
        return message

    return _write(
        session_id,
        form,
        "phq9_form",
        "scores",
        write,
        page=lambda: _phq9_page(infusion_session, form),
    )


def _phq9_page(infusion_session: InfusionSession, form: Phq9Form) -> tuple[str, int]:
    page = render_template(
        "sessions/phq9.html",
        infusion_session=infusion_session,
        form=form,
        phq9_stem=PHQ9_STEM,
        phq9_answers=PHQ9_ANSWERS,
    )
    _record_view(infusion_session)
    return page, 422 if form.errors else 200


@bp.route("/<int:session_id>/scores/pain", methods=["POST"])
@roles_required(*CHARTING_ROLES)
def add_pain(session_id: int) -> Response | tuple[str, int]:
    _load(session_id)
    form = PainForm()

    def write() -> str | None:
        saved = closing.record_pain(
            current_user,
            session_id,
            timing=_timing(form),
            occurred_at=entered_time(form, form.occurred_at),
            score=form.score.data,
            submission_key=form.submission(),
        )
        return f"Pain score recorded: {saved.entry.total}/10." if saved.created else None

    return _write(session_id, form, "pain_form", "scores", write)


@bp.route("/<int:session_id>/checklist/<int:item_id>", methods=["POST"])
@roles_required(*CHARTING_ROLES)
def record_checklist(session_id: int, item_id: int) -> Response | tuple[str, int]:
    _load(session_id)
    item = db.session.get(ChecklistItem, item_id)
    if item is None or not item.active:
        abort(404)
    form = ChecklistForm(item=item)

    def write() -> str | None:
        try:
            saved = closing.record_checklist(
                current_user,
                session_id,
                item_id,
                done=form.done,
                not_done_reason=form.not_done_reason.data,
                detail=form.detail.data,
                note=form.note.data or "",
                submission_key=form.submission(),
                # Absent from a scripted post: no check (a browser's form always carries it).
                shown_state=form.shown_state.data or "" if form.shown_state.raw_data else None,
            )
        except closing.StaleChecklistError as error:
            # Shown again with what is now current: saving once more is a deliberate choice.
            form.shown_state.data = error.current_id
            raise
        return f"Checklist: {item.label} recorded." if saved.created else None

    return _write(
        session_id,
        form,
        "checklist_forms",
        f"checklist-item-{item_id}",
        write,
        override={item_id: form},
    )


@bp.route("/<int:session_id>/cancel", methods=["POST"])
@roles_required(*CHARTING_ROLES)
def cancel(session_id: int) -> Response | tuple[str, int]:
    _load(session_id)
    form = CancelForm()

    def write() -> str:
        closing.cancel_session(current_user, session_id, form.cancel_reason.data or "")
        return "Session cancelled. It still needs a clinician's signature."

    return _write(session_id, form, "cancel_form", "ending", write)


@bp.route("/<int:session_id>/void/<kind>/<int:entry_id>", methods=["GET", "POST"])
@roles_required(*CHARTING_ROLES)
def void(session_id: int, kind: str, entry_id: int) -> Response | tuple[str, int] | str:
    """Voiding asks for a reason on a page of its own, with the entry it is about in full view."""
    infusion_session = _load(session_id)
    model = closing.VOIDABLE.get(kind)
    entry = db.session.get(model, entry_id) if model is not None else None
    if entry is None or entry.session_id != session_id:
        abort(404)
    if not closing.may_void(current_user, entry):
        abort(403)
    form = VoidForm()
    if request.method == "GET":
        if infusion_session.is_signed:
            return _refused(session_id, SessionLockedError.message)
        if entry.is_voided:
            return _back_to(session_id, f"{kind}-{entry_id}")
        return _void_page(infusion_session, kind, entry, form)[0]

    def write() -> str | None:
        saved = closing.void_entry(current_user, session_id, kind, entry_id, form.reason.data or "")
        return "Entry voided. It stays on the record, struck through." if saved.created else None

    return _write(
        session_id,
        form,
        "void_form",
        f"{kind}-{entry_id}",
        write,
        page=lambda: _void_page(infusion_session, kind, entry, form),
    )


def describe_entry(kind: str, entry: Any) -> str:
    """One line naming the entry, so the person voiding it sees exactly which one it is."""
    at = format_local(getattr(entry, "occurred_at", None) or entry.recorded_at, "%H:%M")
    if kind == "administration":
        return (
            f"{entry.drug} {decimal_text(entry.dose_amount)} {entry.dose_unit} "
            f"{entry.method.value}, started {format_local(entry.started_at, '%H:%M')}"
        )
    if kind == "monitoring":
        values = [
            f"BP {entry.systolic_bp or '?'}/{entry.diastolic_bp or '?'}"
            if entry.systolic_bp or entry.diastolic_bp
            else "",
            f"HR {entry.heart_rate}" if entry.heart_rate is not None else "",
            f"SpO₂ {entry.spo2}%" if entry.spo2 is not None else "",
            f"RR {entry.respiratory_rate}" if entry.respiratory_rate is not None else "",
            entry.note,
        ]
        return f"Monitoring at {at}: " + ", ".join(v for v in values if v)
    if kind == "infusion_event":
        return f"Infusion {entry.kind.label.lower()} at {at}"
    if kind == "score":
        return f"{entry.instrument.label} {entry.total} ({entry.timing.value} the session) at {at}"
    state = "done" if entry.done else f"not done: {entry.not_done_reason}"
    return f"{entry.item.label}: {state} ({at})"


def _void_page(
    infusion_session: InfusionSession, kind: str, entry: Any, form: VoidForm
) -> tuple[str, int]:
    page = render_template(
        "sessions/void.html",
        infusion_session=infusion_session,
        kind=kind,
        entry=entry,
        summary=describe_entry(kind, entry),
        form=form,
    )
    _record_view(infusion_session)
    return page, 422 if form.errors else 200


def _record_view(infusion_session: InfusionSession) -> None:
    """These pages show the patient's banner and the entry: views of the record (invariant 6).
    A refused post was rolled back before; only the view is written."""
    db.session.rollback()
    closing.record_session_view(current_user, infusion_session, "session_viewed")
    db.session.commit()


@bp.route("/<int:session_id>/sign", methods=["POST"])
@roles_required(Role.CLINICIAN)
def sign(session_id: int) -> Response | tuple[str, int]:
    infusion_session = _load(session_id)
    patient_id = infusion_session.patient_id
    form = SignForm()
    if infusion_session.is_signed:
        return _refused(session_id, "This session is already signed.")
    if not form.validate_on_submit():
        return _rerender(session_id, sign_form=form)
    try:
        closing.sign_session(current_user, session_id, form.password.data or "")
    except SessionLockedError:
        return _refused(session_id, "This session is already signed.")
    except closing.WrongPasswordError as error:
        db.session.rollback()
        # The failed attempt is kept, like a failed login, even though nothing else is.
        closing.record_failed_signature(current_user, session_id, patient_id)
        db.session.commit()
        show_on_form(form, error)
        return _rerender(session_id, sign_form=form)
    except closing.SignOffRefusedError as error:
        return _rerender(session_id, sign_form=form, sign_problems=error.missing)
    db.session.commit()
    flash("Session signed and locked. Later corrections go in an addendum.", "success")
    return _back_to(session_id, "sign-off")


@bp.route("/<int:session_id>/addenda", methods=["POST"])
@roles_required(*CHARTING_ROLES)
def add_addendum(session_id: int) -> Response | tuple[str, int]:
    _load(session_id)
    form = AddendumForm()

    def write() -> str | None:
        saved = closing.add_addendum(
            current_user,
            session_id,
            text=form.text.data or "",
            reason=form.reason.data or "",
            submission_key=form.submission(),
        )
        return "Addendum added." if saved.created else None

    return _write(session_id, form, "addendum_form", "addenda", write)


# --- the printable record --------------------------------------------------------------------


@bp.route("/<int:session_id>/print")
@roles_required(*CHARTING_ROLES)
def print_record(session_id: int) -> str:
    infusion_session = _chart_views().get_session_or_404(session_id)
    administrations = list(
        db.session.scalars(
            sa.select(Administration)
            .where(Administration.session_id == session_id)
            .options(
                selectinload(Administration.events),
                joinedload(Administration.ordering_clinician),
            )
            .order_by(Administration.started_at, Administration.id)
        ).unique()
    )
    monitoring = list(
        db.session.scalars(
            sa.select(MonitoringEntry)
            .where(MonitoringEntry.session_id == session_id)
            .order_by(MonitoringEntry.occurred_at, MonitoringEntry.id)
        ).unique()
    )
    # Every completion, of retired items too: the paper record leaves nothing out.
    completions = list(
        db.session.scalars(
            sa.select(ChecklistCompletion)
            .join(ChecklistItem)
            .where(ChecklistCompletion.session_id == session_id)
            .order_by(ChecklistItem.position, ChecklistCompletion.id)
        ).unique()
    )
    signature, matches = _signature(infusion_session)
    page = render_template(
        "sessions/print.html",
        infusion_session=infusion_session,
        patient=infusion_session.patient,
        administrations=administrations,
        monitoring=monitoring,
        scores=_scores(session_id),
        completions=completions,
        signature=signature,
        signature_matches=matches,
        addenda=_addenda(infusion_session),
        now_text=format_local(utcnow()),
    )
    closing.record_session_view(current_user, infusion_session, "session_printed")
    db.session.commit()
    return page
