"""An adverse event, and its resolution."""

from __future__ import annotations

from wtforms import Field, RadioField, SelectField, SelectMultipleField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from clinic.form_choices import as_choices
from clinic.sessions.entry_time import (
    DATETIME_FORMAT,
    EntryTimeForm,
    OneTimeForm,
    not_in_future,
    occurred_at_field,
)
from clinic.sessions.forms.fields import strip_text
from clinic.sessions.forms.times import ChartTimeField, twenty_four_hour
from clinic.sessions.models import (
    AdverseEventAction,
    AdverseEventOutcome,
    AdverseEventSeverity,
    AdverseEventType,
)

OUTCOME_CHOICES = [(o.value, o.label) for o in AdverseEventOutcome]


class AdverseEventForm(OneTimeForm):
    occurred_at = twenty_four_hour(occurred_at_field("Onset"))
    type = SelectField(
        "Type",
        choices=as_choices([("", "Choose…"), *((t.value, t.label) for t in AdverseEventType)]),
        validators=[DataRequired(message="Choose the type.")],
    )
    severity = RadioField(
        "Severity",
        choices=as_choices([(s.value, s.label) for s in AdverseEventSeverity]),
        validators=[InputRequired(message="Choose the severity.")],
    )
    actions = SelectMultipleField(
        "Actions taken",
        choices=as_choices([(a.value, a.label) for a in AdverseEventAction]),
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    resolved_at = ChartTimeField(
        "Resolved at (optional)", format=DATETIME_FORMAT, validators=[Optional(), not_in_future]
    )
    # Empty unless chosen: checked by validate_outcome, not by the choice list (which refuses a
    # post that leaves it out).
    outcome = SelectField(
        "Outcome (optional)",
        choices=as_choices([("", "—"), *OUTCOME_CHOICES]),
        validate_choice=False,
    )
    note = TextAreaField(
        "Note", validators=[Length(max=2000)], filters=[strip_text], render_kw={"rows": 2}
    )

    def validate_outcome(self, field: Field) -> None:
        if field.data and field.data not in {o.value for o in AdverseEventOutcome}:
            raise ValidationError("Choose an outcome from the list.")
        if self.resolved_at.data and not field.data:
            raise ValidationError("Choose the outcome.")


class ResolveAdverseEventForm(EntryTimeForm):
    resolved_at = twenty_four_hour(occurred_at_field("Resolved at"))
    outcome = RadioField(
        "Outcome",
        choices=as_choices(OUTCOME_CHOICES),
        validators=[InputRequired(message="Choose the outcome.")],
    )
