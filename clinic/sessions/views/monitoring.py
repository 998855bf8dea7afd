"""The quick vitals entry: a set of vitals, scales and a note, every few minutes."""

from __future__ import annotations

from flask_login import current_user
from werkzeug.wrappers import Response

from clinic.auth.access import roles_required
from clinic.auth.models import CLINICAL_ROLES
from clinic.clinic_time import format_local
from clinic.sessions.blueprint import bp
from clinic.sessions.chart import Confirmation, ShownAgain
from clinic.sessions.entry_time import entered_time
from clinic.sessions.forms.fields import optional_int
from clinic.sessions.forms.monitoring import MonitoringForm
from clinic.sessions.models import Dissociation, Nausea, Phase
from clinic.sessions.services.monitoring import MonitoringDetails, record_monitoring
from clinic.sessions.views.posting import save_or_show_again


@bp.route("/<int:session_id>/monitoring", methods=["POST"])
@roles_required(*CLINICAL_ROLES)
def add_monitoring(session_id: int) -> Response | tuple[str, int]:
    form = MonitoringForm()

    def write() -> Confirmation:
        details = MonitoringDetails(
            phase=Phase(form.phase.data),
            occurred_at=entered_time(form, form.occurred_at),
            systolic_bp=form.systolic_bp.data,
            diastolic_bp=form.diastolic_bp.data,
            heart_rate=form.heart_rate.data,
            spo2=form.spo2.data,
            respiratory_rate=form.respiratory_rate.data,
            temperature_c=form.temperature_c.data,
            sedation_moaas=optional_int(form.sedation_moaas.data),
            dissociation=Dissociation(form.dissociation.data) if form.dissociation.data else None,
            nausea=Nausea(form.nausea.data) if form.nausea.data else None,
            note=(form.note.data or "").strip(),
        )
        entry = record_monitoring(current_user, session_id, details, form.submission()).entry
        # The page comes back to an empty form with the cursor in its first field, ready for the
        # next set, the saved row marked just above it.
        at = format_local(entry.occurred_at, "%H:%M")
        return Confirmation("monitoring", f"Saved: vitals at {at}.", f"monitoring-{entry.id}")

    # No #fragment: a browser skips `autofocus` on a page opened at a fragment's target (HTML
    # autofocus rules), and the focused field scrolls into view by itself.
    return save_or_show_again(
        session_id,
        form,
        write,
        shown_again=ShownAgain(monitoring_form=form),
        anchor="",
        focus="monitoring",
    )
