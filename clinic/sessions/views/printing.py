"""The printable record of a session: everything on it, retired checklist items included."""

from __future__ import annotations

import sqlalchemy as sa
from flask import render_template
from flask_login import current_user

from clinic.auth.access import roles_required
from clinic.auth.models import CLINICAL_ROLES
from clinic.clinic_time import format_local
from clinic.database import utcnow
from clinic.extensions import db
from clinic.sessions.adverse_event_section import adverse_event_section
from clinic.sessions.blueprint import bp
from clinic.sessions.chart import (
    addenda_of,
    administrations_of,
    monitoring_of,
    score_rows,
    signature_check,
)
from clinic.sessions.course_place import course_place
from clinic.sessions.deviations import deviations_of
from clinic.sessions.loading import get_session_or_404
from clinic.sessions.models import ChecklistCompletion, ChecklistItem
from clinic.sessions.screening_section import screening_section
from clinic.sessions.services.adverse_events import adverse_events_of
from clinic.sessions.services.screening import screening_of
from clinic.sessions.services.viewing import record_session_view
from clinic.sessions.vitals import first_dosing_time


@bp.route("/<int:session_id>/print")
@roles_required(*CLINICAL_ROLES)
def print_record(session_id: int) -> str:
    infusion_session = get_session_or_404(session_id)
    # Every completion, of retired items too: the paper record leaves nothing out.
    completions = list(
        db.session.scalars(
            sa.select(ChecklistCompletion)
            .join(ChecklistItem)
            .where(ChecklistCompletion.session_id == session_id)
            .order_by(ChecklistItem.position, ChecklistCompletion.id)
        ).unique()
    )
    signature, matches = signature_check(infusion_session)
    administrations = administrations_of(session_id)
    monitoring = monitoring_of(session_id)
    page = render_template(
        "sessions/print.html",
        infusion_session=infusion_session,
        patient=infusion_session.patient,
        course_place=course_place(infusion_session),
        administrations=administrations,
        deviations={a.id: deviations_of(a, a.order) for a in administrations},
        monitoring=monitoring,
        print_page=True,
        adverse=adverse_event_section(
            adverse_events_of(session_id), administrations, editable=False
        ),
        screening=screening_section(
            screening_of(session_id),
            monitoring,
            first_dosing_time(administrations),
            editable=False,
            can_override=False,
            shown_form=None,
            shown_override_form=None,
        ),
        scores=score_rows(session_id),
        completions=completions,
        signature=signature,
        signature_matches=matches,
        addenda=addenda_of(infusion_session),
        now_text=format_local(utcnow()),
    )
    record_session_view(current_user, infusion_session, "session_printed")
    db.session.commit()
    return page
