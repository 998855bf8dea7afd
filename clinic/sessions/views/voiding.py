"""Voiding an entry, on a page of its own with the entry it is about in full view."""

from __future__ import annotations

from typing import Any

from flask import abort, render_template, request
from flask_login import current_user
from werkzeug.wrappers import Response

from clinic.auth.access import roles_required
from clinic.auth.models import CLINICAL_ROLES
from clinic.clinic_time import format_local
from clinic.clinical_numbers import decimal_text
from clinic.extensions import db
from clinic.sessions.blueprint import bp
from clinic.sessions.chart import Confirmation, ShownAgain, back_to, chart_refusing
from clinic.sessions.forms.voiding import VoidForm
from clinic.sessions.guards import SessionLockedError
from clinic.sessions.loading import get_session_or_404
from clinic.sessions.models import InfusionSession
from clinic.sessions.services.scores import score_definition
from clinic.sessions.services.voiding import VOIDABLE, may_void, void_entry
from clinic.sessions.views.posting import record_page_view, save_or_show_again


@bp.app_template_global("may_void")
def may_void_entry(infusion_session: InfusionSession, entry: Any) -> bool:
    return not infusion_session.is_signed and may_void(current_user, entry)


@bp.route("/<int:session_id>/void/<kind>/<int:entry_id>", methods=["GET", "POST"])
@roles_required(*CLINICAL_ROLES)
def void(session_id: int, kind: str, entry_id: int) -> Response | tuple[str, int] | str:
    infusion_session = get_session_or_404(session_id)
    model = VOIDABLE.get(kind)
    entry = db.session.get(model, entry_id) if model is not None else None
    if entry is None or entry.session_id != session_id:
        abort(404)
    if not may_void(current_user, entry):
        abort(403)
    form = VoidForm()
    if request.method == "GET":
        if infusion_session.is_signed:
            return chart_refusing(session_id, SessionLockedError.message)
        if entry.is_voided:
            return back_to(session_id, f"{kind}-{entry_id}")
        return _void_page(infusion_session, kind, entry, form)[0]

    def write() -> Confirmation:
        void_entry(current_user, session_id, kind, entry_id, form.reason.data or "")
        message = "Entry voided. It stays on the record, struck through."
        return Confirmation(status_part(kind, entry), message, f"{kind}-{entry_id}")

    return save_or_show_again(
        session_id,
        form,
        write,
        shown_again=ShownAgain(),
        anchor=f"{kind}-{entry_id}",
        page=lambda: _void_page(infusion_session, kind, entry, form),
    )


def status_part(kind: str, entry: Any) -> str:
    """Where the chart confirms a void: by the rows the entry is one of."""
    if kind in ("monitoring", "infusion_event"):
        return "flowsheet"
    if kind == "checklist":
        return f"checklist-item-{entry.item_id}"
    return {
        "administration": "administrations",
        "score": "scores",
        "adverse_event": "adverse-events",
        "discharge_assessment": "assessment",
    }[kind]


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
    if kind == "discharge_assessment":
        return f"Discharge assessment at {at}: modified Aldrete {entry.total}"
    if kind == "adverse_event":
        return f"Adverse event: {entry.type.label}, {entry.severity.label.lower()}, onset {at}"
    if kind == "score":
        name = score_definition(entry).name
        return f"{name} {entry.total} ({entry.timing.label.lower()}) at {at}"
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
    record_page_view(infusion_session)
    return page, 422 if form.errors else 200
