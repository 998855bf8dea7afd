"""The two answers the REMS monitoring form takes on its own page."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField
from wtforms.validators import InputRequired

from clinic.clinic_time import local_now
from clinic.request_bounds import date_in_range
from clinic.sessions.forms.fields import VitalField


class ReadyToLeaveForm(FlaskForm):
    ready_to_leave_minutes = VitalField(
        "Had there been no 2-hour minimum, the patient would have been ready to leave at "
        "(minutes after the first device)",
        validators=[InputRequired(message="Enter the minutes after the first device.")],
    )


class RemsSubmittedForm(FlaskForm):
    submitted_on = DateField(
        "Submitted to the REMS programme on",
        default=lambda: local_now().date(),
        validators=[InputRequired(message="Enter the date it was submitted."), date_in_range],
    )
