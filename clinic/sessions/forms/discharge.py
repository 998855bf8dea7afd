"""The discharge checklist, the discharge itself, and cancelling a session."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    HiddenField,
    RadioField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    Optional,
    Regexp,
)

from clinic.form_choices import as_choices
from clinic.sessions.entry_time import (
    EntryTimeForm,
    OneTimeForm,
    occurred_at_field,
)
from clinic.sessions.forms.fields import REASON_MAX, required_text, strip_text
from clinic.sessions.forms.times import twenty_four_hour
from clinic.sessions.models import ChecklistItem

DONE, NOT_DONE = "done", "not_done"


class ChecklistForm(OneTimeForm):
    """One item's completion. Pass `item=` so the driver's-name rule knows its label."""

    status = RadioField(
        "Status",
        choices=as_choices([(DONE, "Done"), (NOT_DONE, "Not done")]),
        validators=[InputRequired(message="Choose done or not done.")],
    )
    detail = StringField("Detail", validators=[Optional(), Length(max=200)], filters=[strip_text])
    not_done_reason = TextAreaField(
        "Reason if not done",
        validators=[Length(max=REASON_MAX)],
        filters=[strip_text],
        render_kw={"rows": 2},
    )
    note = StringField("Note", validators=[Length(max=500)], filters=[strip_text])
    # The completion the person saw as current ("" for none): a newer one means someone else
    # recorded this item meanwhile, and this save must not replace theirs unseen.
    shown_state = HiddenField(validators=[Regexp(r"^\d*$")], render_kw={"autocomplete": "off"})

    def __init__(self, *args: Any, item: ChecklistItem, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", f"checklist-{item.id}")
        super().__init__(*args, **kwargs)
        self.item = item
        if item.detail_label:
            self.detail.label.text = item.detail_label

    @property
    def done(self) -> bool:
        return self.status.data == DONE

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        if self.status.data == NOT_DONE and not self.not_done_reason.data:
            self.not_done_reason.errors.append("Give the reason it was not done.")
            valid = False
        if self.status.data == DONE and self.item.detail_label and not self.detail.data:
            self.detail.errors.append(f"Enter the {self.item.detail_label.lower()}.")
            valid = False
        return valid


class CancelForm(FlaskForm):
    cancel_reason = required_text("Reason for cancelling", "Give the reason for cancelling.")


class EndSessionForm(EntryTimeForm):
    # The session's version when the form was shown (optimistic locking of the header).
    version = HiddenField(
        validators=[
            InputRequired(message="Reload the chart: this form is out of date."),
            Regexp(r"^\d{1,9}$", message="Reload the chart: this form is out of date."),
        ]
    )
    discharged_at = twenty_four_hour(occurred_at_field("Discharge time"))
    discharged_with = StringField(
        "Left with (driver's name)",
        validators=[DataRequired(message="Enter who the patient left with."), Length(max=120)],
    )
    # A clinician's reason to discharge before the route's minimum observation.
    override_reason = TextAreaField(
        "Clinician's override: reason to discharge before the minimum observation",
        validators=[Optional(), Length(max=REASON_MAX)],
        filters=[strip_text],
        render_kw={"rows": 2},
    )
