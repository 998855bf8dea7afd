"""A patient's sessions as CSV, one row per session, for a spreadsheet.

Administrations are listed as entered, one after another, never summed. Every cell is escaped
against formula injection (OWASP "CSV injection"): free text typed in the app must never run as a
formula when a clinician opens the file.
"""

from __future__ import annotations

from collections.abc import Iterable

from clinic.clinic_time import format_local
from clinic.clinical_numbers import decimal_text
from clinic.csv_cells import csv_bytes
from clinic.review.fhir import PatientRecord, SessionRecord
from clinic.sessions.course_place import CoursePlace, course_places
from clinic.sessions.deviations import deviations_of
from clinic.sessions.models import Administration, Instrument, Score, ScoreTiming

HEADER = (
    "Session ID",
    "Date",
    "Time",
    "Indication",
    "Course",
    "Route",
    "Status",
    "Attending",
    "Nurse",
    "Administrations",
    "Voided administrations",
    "PHQ-9 before",
    "PHQ-9 after",
    "PHQ-9 item 9 above 0",
    "Pain before",
    "Pain after",
    "Checklist complete",
    "Signed by",
    "Signed at",
)


def administration_text(admin: Administration) -> str:
    """As entered; with the order it carried out and any deviation from it, compared as
    entered (nothing converted)."""
    text = f"{admin.drug} {decimal_text(admin.dose_amount)} {admin.dose_unit} {admin.method.value}"
    if admin.rate_amount is not None and admin.rate_unit:
        text += f" at {decimal_text(admin.rate_amount)} {admin.rate_unit}"
    order = admin.order
    if order is not None:
        text += (
            f" (order {order.id}: {decimal_text(order.dose_amount)} {order.dose_unit}"
            f" {order.route.label}"
        )
        differences = deviations_of(admin, order)
        if differences:
            acknowledged = "acknowledged" if admin.deviation_acknowledged_at else "not acknowledged"
            text += f"; deviation: {', '.join(differences)}, {acknowledged}"
        text += ")"
    return text


def latest_score(
    scores: Iterable[Score], instrument: Instrument, timing: ScoreTiming
) -> Score | None:
    """The last valid score of its kind: a rescoring replaces the earlier one for the table."""
    found = None
    for score in scores:
        if not score.is_voided and score.instrument == instrument and score.timing == timing:
            found = score
    return found


def checklist_complete(item: SessionRecord, required: frozenset[int]) -> bool:
    """Every required item done, or not done with a reason, by an entry that was not voided."""
    answered = {
        c.item_id
        for c in item.checklist
        if not c.is_voided and (c.done or (c.not_done_reason or "").strip())
    }
    return required <= answered


def session_row(
    item: SessionRecord, required: frozenset[int], place: CoursePlace | None = None
) -> list[str]:
    session = item.session
    scores = item.scores
    phq_before = latest_score(scores, Instrument.PHQ9, ScoreTiming.BEFORE)
    phq_after = latest_score(scores, Instrument.PHQ9, ScoreTiming.AFTER)
    pain_before = latest_score(scores, Instrument.PAIN_NRS, ScoreTiming.BEFORE)
    pain_after = latest_score(scores, Instrument.PAIN_NRS, ScoreTiming.AFTER)
    risk = any(s.risk_flag for s in scores if not s.is_voided and s.instrument == Instrument.PHQ9)
    signature = session.signature
    signed_by = (
        f"{signature.signer_name}, {signature.signer_credentials}".rstrip(", ") if signature else ""
    )

    def total(score: Score | None) -> str:
        return "" if score is None else str(score.total)

    return [
        str(session.id),
        format_local(session.started_at, "%Y-%m-%d"),
        format_local(session.started_at, "%H:%M"),
        session.indication.label,
        place.text if place else "",
        session.route.label,
        session.status.label,
        session.attending_clinician.display_name,
        session.nurse.display_name,
        "; ".join(administration_text(a) for a in item.administrations if not a.is_voided),
        "; ".join(administration_text(a) for a in item.administrations if a.is_voided),
        total(phq_before),
        total(phq_after),
        "yes" if risk else "no",
        total(pain_before),
        total(pain_after),
        "yes" if checklist_complete(item, required) else "no",
        signed_by,
        format_local(signature.signed_at) if signature else "",
    ]


def sessions_csv(record: PatientRecord) -> bytes:
    places = course_places([s.session.id for s in record.sessions])
    required = record.required_checklist_item_ids
    rows = [HEADER, *(session_row(s, required, places.get(s.session.id)) for s in record.sessions)]
    return csv_bytes(rows)
