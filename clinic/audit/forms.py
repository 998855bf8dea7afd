from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField
from wtforms.validators import NumberRange, Optional


class AuditFilterForm(FlaskForm):
    """A GET filter: no CSRF, nothing changes."""

    class Meta:
        csrf = False

    user = SelectField("User", coerce=str, validators=[Optional()])
    action = SelectField("Action", coerce=str, validators=[Optional()])
    patient = IntegerField("Patient id", validators=[Optional(), NumberRange(min=1)])
    date_from = DateField("From", validators=[Optional()])
    date_to = DateField("To", validators=[Optional()])
