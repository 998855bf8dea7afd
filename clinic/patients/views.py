from clinic.patients import bp  # noqa: F401
from clinic.patients import models  # noqa: F401
