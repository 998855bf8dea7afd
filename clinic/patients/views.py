from clinic.patients import (
    bp,  # noqa: F401
    models,  # noqa: F401
)
