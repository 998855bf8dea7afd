"""Entry point for gunicorn (`gunicorn wsgi:app`) and the `flask` command."""

import sys

from clinic import create_app
from clinic.config import ConfigError

try:
    app = create_app()
except ConfigError as error:
    # One line, not a traceback: the setting to give is all the operator needs to read.
    sys.exit(f"clinic: {error}")
