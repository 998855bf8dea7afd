"""The course forms: open one, review it, end it."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, Regexp

from clinic.form_choices import as_choices
from clinic.patients.courses.models import CourseStatus, Protocol
from clinic.patients.courses.services import CourseDetails
from clinic.patients.models import Indication
from clinic.request_bounds import date_in_range
from clinic.submissions import OneTimeKey


def _stripped(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


class CourseForm(OneTimeKey, FlaskForm):
    indication = SelectField(
        "Indication",
        choices=as_choices([(i.value, i.label) for i in Indication]),
        validators=[DataRequired("Choose the indication.")],
    )
    protocol = RadioField(
        "Protocol",
        choices=as_choices([(p.value, p.label) for p in Protocol]),
        validators=[InputRequired("Choose the protocol.")],
    )
    protocol_name = StringField(
        "Protocol name",
        validators=[Length(max=120)],
        filters=[_stripped],
        description="E.g. “6 IV infusions over 3 weeks”; required for another protocol.",
        render_kw={"autocomplete": "off"},
    )
    planned_sessions = StringField(
        "Planned sessions",
        validators=[
            DataRequired("Enter the number of sessions planned."),
            Regexp(r"^[0-9]{1,3}$", message="Enter a whole number of sessions."),
        ],
        filters=[_stripped],
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )
    start_date = DateField(
        "Start date", validators=[InputRequired("Enter the start date."), date_in_range]
    )
    review_due = DateField(
        "Review due",
        validators=[Optional(), date_in_range],
        description="When the response is to be reviewed.",
    )

    def to_details(self) -> CourseDetails:
        return CourseDetails(
            indication=Indication(self.indication.data),
            protocol=Protocol(self.protocol.data),
            protocol_name=self.protocol_name.data or "",
            planned_sessions=int(self.planned_sessions.data or 0),
            start_date=self.start_date.data,
            review_due=self.review_due.data,
        )


class CourseReviewForm(OneTimeKey, FlaskForm):
    reviewed_on = DateField(
        "Reviewed on", validators=[InputRequired("Enter the date of the review."), date_in_range]
    )
    note = TextAreaField(
        "Response and plan",
        validators=[DataRequired("Write the review."), Length(max=4000)],
        filters=[_stripped],
        description="The response as read from the scores, and what is decided.",
        render_kw={"rows": 4},
    )


class EndCourseForm(FlaskForm):
    outcome = RadioField(
        "Outcome",
        choices=as_choices(
            [
                (CourseStatus.COMPLETED.value, "Completed"),
                (CourseStatus.DISCONTINUED.value, "Discontinued"),
            ]
        ),
        validators=[InputRequired("Choose completed or discontinued.")],
    )
    reason = TextAreaField(
        "Reason",
        validators=[Length(max=2000)],
        filters=[_stripped],
        description="Required when the course is discontinued.",
        render_kw={"rows": 2},
    )
