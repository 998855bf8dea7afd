"""The steps every chart post shares: validate, write through one service, commit, go back."""

from __future__ import annotations

from collections.abc import Callable

from flask import abort
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from clinic.extensions import db
from clinic.field_errors import FieldError, show_on_form
from clinic.sessions.chart import Confirmation, ShownAgain, chart_again, chart_refusing, saved
from clinic.sessions.entries import EntryNotFoundError
from clinic.sessions.guards import SessionLockedError, SessionNotFoundError
from clinic.sessions.loading import session_status_or_404
from clinic.sessions.models import InfusionSession, SessionStatus
from clinic.sessions.services.viewing import record_session_view


def save_or_show_again(
    session_id: int,
    form: FlaskForm,
    write: Callable[[], Confirmation | None],
    *,
    shown_again: ShownAgain,
    anchor: str,
    focus: str = "",
    page: Callable[[], tuple[str, int]] | None = None,
    takes_signed: bool = False,
    default_field: str | None = None,
) -> Response | tuple[str, int]:
    """Validate, write through one service, commit, redirect; or show the form again.

    `write` returns how to confirm the save where it was made (clinic/sessions/chart.py); a
    repeated post, which stored nothing new, confirms the entry the first one stored.
    A refused form comes back on the chart in `shown_again`, or on its own page (`page`).
    `takes_signed`: the form is one a signed session accepts (an addendum). A refusal that names
    no field is shown next to `default_field`, else above the form.
    """

    def show_again() -> tuple[str, int]:
        if page is None:
            return chart_again(session_id, shown_again, focus)
        if hasattr(form, "renew_submission_key"):
            form.renew_submission_key()
        return page()

    # The status alone, before the input is read: on a signed session fixing the input would not
    # help, so say why nothing can be saved. The service re-reads it under the row lock, which
    # catches a signature landing after this check.
    status = session_status_or_404(session_id)
    if status == SessionStatus.SIGNED and not takes_signed:
        return chart_refusing(session_id, SessionLockedError.message, shown_again)
    if not form.validate_on_submit():
        return show_again()
    try:
        confirmation = write()
    except SessionLockedError:
        return chart_refusing(session_id, SessionLockedError.message, shown_again)
    except (SessionNotFoundError, EntryNotFoundError):
        db.session.rollback()
        abort(404)
    except PermissionError:
        db.session.rollback()
        abort(403)
    except FieldError as error:
        db.session.rollback()
        show_on_form(form, error, default_field)
        return show_again()
    db.session.commit()
    return saved(session_id, confirmation, anchor, focus)


def record_page_view(infusion_session: InfusionSession) -> None:
    """A page of its own (PHQ-9, void) shows the patient's banner and the entry: a view of the
    record (invariant 6). A refused post was rolled back before; only the view is written."""
    db.session.rollback()
    record_session_view(current_user, infusion_session, "session_viewed")
    db.session.commit()
