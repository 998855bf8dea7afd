"""PHQ-9 (on a page of its own) and pain scores."""

from __future__ import annotations

from flask import render_template, request
from flask_login import current_user
from werkzeug.wrappers import Response

from clinic.auth.access import roles_required
from clinic.auth.models import CLINICAL_ROLES
from clinic.sessions.blueprint import bp
from clinic.sessions.chart import Confirmation, ShownAgain, chart_refusing
from clinic.sessions.entry_time import entered_time
from clinic.sessions.forms.scores import PainForm, Phq9Form
from clinic.sessions.guards import SessionLockedError
from clinic.sessions.loading import get_session_or_404
from clinic.sessions.models import InfusionSession, ScoreTiming
from clinic.sessions.scoring import PHQ9_ANSWERS, PHQ9_STEM, phq9_band
from clinic.sessions.services.scores import record_pain, record_phq9
from clinic.sessions.views.posting import record_page_view, save_or_show_again


@bp.route("/<int:session_id>/scores/phq9", methods=["GET", "POST"])
@roles_required(*CLINICAL_ROLES)
def add_phq9(session_id: int) -> Response | tuple[str, int] | str:
    """The PHQ-9 has its own page: 27 radio buttons would bury the chart on a tablet."""
    infusion_session = get_session_or_404(session_id)
    form = Phq9Form()
    if request.method == "GET":
        if infusion_session.is_signed:
            return chart_refusing(session_id, SessionLockedError.message)
        return _phq9_page(infusion_session, form)[0]

    def write() -> Confirmation:
        stored = record_phq9(
            current_user,
            session_id,
            timing=ScoreTiming(form.timing.data),
            occurred_at=entered_time(form, form.occurred_at),
            answers=form.answers,
            submission_key=form.submission(),
        )
        score = stored.entry
        message = f"PHQ-9 recorded: {score.total} ({phq9_band(score.total)})."
        if score.risk_flag:
            message += " Item 9 is above 0: suicide risk flagged; tell the clinician now."
        return Confirmation("scores", message, f"score-{score.id}")

    return save_or_show_again(
        session_id,
        form,
        write,
        shown_again=ShownAgain(),
        anchor="scores",
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
    record_page_view(infusion_session)
    return page, 422 if form.errors else 200


@bp.route("/<int:session_id>/scores/pain", methods=["POST"])
@roles_required(*CLINICAL_ROLES)
def add_pain(session_id: int) -> Response | tuple[str, int]:
    form = PainForm()

    def write() -> Confirmation:
        stored = record_pain(
            current_user,
            session_id,
            timing=ScoreTiming(form.timing.data),
            occurred_at=entered_time(form, form.occurred_at),
            score=form.score.data,
            submission_key=form.submission(),
        )
        score = stored.entry
        return Confirmation("pain", f"Pain score recorded: {score.total}/10.", f"score-{score.id}")

    return save_or_show_again(
        session_id, form, write, shown_again=ShownAgain(pain_form=form), anchor="scores"
    )
