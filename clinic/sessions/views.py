from clinic.sessions import (
    bp,  # noqa: F401
    models,  # noqa: F401
)
