from clinic.sessions import bp  # noqa: F401
from clinic.sessions import models  # noqa: F401
