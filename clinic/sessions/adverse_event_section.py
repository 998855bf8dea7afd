"""The adverse events' part of the chart and the print page (templates/sessions/
_adverse_events.html): each event with the rescue medicines given for it, and the forms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from clinic.sessions.forms.adverse_events import AdverseEventForm, ResolveAdverseEventForm
from clinic.sessions.models import Administration, AdverseEvent

ADVERSE_EVENT_PREFIX = "adverse-event"


@dataclass(frozen=True)
class AdverseEventRow:
    event: AdverseEvent
    rescues: list[Administration]
    resolve_form: ResolveAdverseEventForm | None


@dataclass
class AdverseEventSection:
    rows: list[AdverseEventRow]
    form: AdverseEventForm | None
    unlinked_rescues: list[Administration] = field(default_factory=list)


def adverse_event_section(
    events: Sequence[AdverseEvent],
    administrations: Sequence[Administration],
    *,
    editable: bool,
    shown_form: AdverseEventForm | None = None,
    shown_resolve_forms: Mapping[int, ResolveAdverseEventForm] | None = None,
) -> AdverseEventSection:
    shown_resolve_forms = shown_resolve_forms or {}
    rows = []
    for event in events:
        form = None
        if editable and not event.is_voided and event.resolved_at is None:
            form = shown_resolve_forms.get(event.id) or ResolveAdverseEventForm(
                formdata=None, prefix=f"resolve-{event.id}"
            )
        rescues = [a for a in administrations if a.adverse_event_id == event.id]
        rows.append(AdverseEventRow(event, rescues, form))
    return AdverseEventSection(
        rows=rows,
        form=(shown_form or AdverseEventForm(formdata=None, prefix=ADVERSE_EVENT_PREFIX))
        if editable
        else None,
        unlinked_rescues=[
            a for a in administrations if a.purpose.value == "rescue" and a.adverse_event_id is None
        ],
    )
