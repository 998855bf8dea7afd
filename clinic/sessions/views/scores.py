"""Scores: each instrument's form, built from its definition. Pain is charted on the chart itself;
the questionnaires (PHQ-9, GAD-7, C-SSRS, CADSS, FIQR, any a clinic adds) have a page of their
own, since their answers would bury the chart on a tablet."""

from __future__ import annotations

from flask import abort, render_template, request
from flask_login import current_user
from werkzeug.wrappers import Response

from clinic.auth.access import roles_required
from clinic.auth.models import CLINICAL_ROLES
from clinic.instruments.models import InstrumentVersion
from clinic.instruments.services import current_version
from clinic.sessions.blueprint import bp
from clinic.sessions.chart import Confirmation, ShownAgain, chart_refusing
from clinic.sessions.entry_time import entered_time
from clinic.sessions.forms.scores import ScoreForm, score_form
from clinic.sessions.guards import SessionLockedError
from clinic.sessions.loading import get_session_or_404
from clinic.sessions.models import InfusionSession, Instrument
from clinic.sessions.services.scores import ScoreEntry, record_score, score_definition
from clinic.sessions.views.posting import record_page_view, save_or_show_again

CODE_MAX = 24


def _confirmation(form: ScoreForm, write_code: str, session_id: int) -> Confirmation:
    stored = record_score(
        current_user,
        session_id,
        write_code,
        ScoreEntry(
            form.chosen_timing,
            entered_time(form, form.occurred_at),
            form.answers,
            form.note,
        ),
        version_id=form.version_id,
        submission_key=form.submission(),
    )
    score = stored.entry
    definition = score_definition(score)
    if write_code == Instrument.PAIN_NRS:
        return Confirmation("pain", f"Pain score recorded: {score.total}/10.", f"score-{score.id}")
    band = definition.band(score.total, list(score.answers))
    message = f"{definition.name} recorded: {score.total}" + (f" ({band})." if band else ".")
    for rule in definition.flagged(list(score.answers)):
        message += f" {rule.label}: flagged; tell the clinician now."
    return Confirmation("scores", message, f"score-{score.id}")


def _instrument_page(session_id: int, code: str) -> Response | tuple[str, int] | str:
    if len(code) > CODE_MAX:
        abort(404)
    infusion_session = get_session_or_404(session_id)
    version = current_version(code)
    if version is None:
        abort(404)
    form = score_form(version)
    if request.method == "GET":
        if infusion_session.is_signed:
            return chart_refusing(session_id, SessionLockedError.message)
        return _page(infusion_session, version, form)[0]
    return save_or_show_again(
        session_id,
        form,
        lambda: _confirmation(form, code, session_id),
        shown_again=ShownAgain(),
        anchor="scores",
        page=lambda: _page(infusion_session, version, form),
    )


def _page(
    infusion_session: InfusionSession, version: InstrumentVersion, form: ScoreForm
) -> tuple[str, int]:
    page = render_template(
        "sessions/score.html",
        infusion_session=infusion_session,
        version=version,
        definition=version.spec,
        form=form,
    )
    record_page_view(infusion_session)
    return page, 422 if form.errors else 200


@bp.route("/<int:session_id>/scores/phq9", methods=["GET", "POST"])
@roles_required(*CLINICAL_ROLES)
def add_phq9(session_id: int) -> Response | tuple[str, int] | str:
    """The PHQ-9 at its long-standing address."""
    return _instrument_page(session_id, Instrument.PHQ9)


@bp.route("/<int:session_id>/scores/<code>", methods=["GET", "POST"])
@roles_required(*CLINICAL_ROLES)
def add_score(session_id: int, code: str) -> Response | tuple[str, int] | str:
    """Any instrument by its code; a C-SSRS is refused (next to the assessment) unless a
    clinician records it."""
    return _instrument_page(session_id, code)


@bp.route("/<int:session_id>/scores/pain", methods=["POST"])
@roles_required(*CLINICAL_ROLES)
def add_pain(session_id: int) -> Response | tuple[str, int]:
    version = current_version(Instrument.PAIN_NRS)
    if version is None:
        abort(404)
    form = score_form(version)
    return save_or_show_again(
        session_id,
        form,
        lambda: _confirmation(form, Instrument.PAIN_NRS, session_id),
        shown_again=ShownAgain(pain_form=form),
        anchor="scores",
    )
