from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField
from wtforms.validators import NumberRange, Optional

from clinic.request_bounds import MAX_ID, date_in_range


class AuditFilterForm(FlaskForm):
    """A GET filter: no CSRF, nothing changes."""

    class Meta:
        csrf = False

    user = SelectField("User", coerce=str, validators=[Optional()])
    action = SelectField("Action", coerce=str, validators=[Optional()])
    patient = IntegerField(
        "Patient id",
        validators=[
            Optional(),
            NumberRange(min=1, max=MAX_ID, message="Enter a patient id (a whole number)."),
        ],
    )
    date_from = DateField("From", validators=[Optional(), date_in_range])
    date_to = DateField("To", validators=[Optional(), date_in_range])
