"""Treatment courses: the series of sessions a clinician plans for a patient (an induction, a
maintenance), its response reviews and how it ended. Opened, reviewed and ended by a clinician;
a session belongs to a course (clinic/sessions/services/opening.py). Routes are in views.py, on
`bp`, under the patient's URLs; the course page, which lists the course's sessions, is the
review blueprint's (clinic/review/courses.py)."""

from flask import Blueprint

bp = Blueprint("courses", __name__, url_prefix="/patients")
