"""Friendly error pages, one template for all. The 500 handler rolls the transaction back."""

from __future__ import annotations

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

from clinic.extensions import db

MESSAGES = {
    400: ("Bad request", "The request could not be understood. Go back and try again."),
    403: ("Not allowed", "Your role does not give access to this page."),
    404: ("Not found", "There is no page at this address."),
    405: ("Not allowed", "This page cannot be used that way."),
    413: (
        "Request too large",
        "What was sent is larger than any form of the clinic takes. Nothing was saved.",
    ),
    429: ("Too many attempts", "Too many requests from this address. Wait a minute and retry."),
    500: ("Something went wrong", "The error was logged. Nothing from this request was saved."),
    503: (
        "Temporarily unavailable",
        "The database cannot be reached. Nothing from this request was saved; retry shortly.",
    ),
}


def render_error(status: int, detail: str | None = None) -> tuple[str, int]:
    title, message = MESSAGES.get(status, (f"Error {status}", "The request failed."))
    return render_template(
        "errors/error.html", status=status, title=title, message=detail or message
    ), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> tuple[str, int]:
        db.session.rollback()
        return render_error(
            400,
            "The form expired or was sent twice. Reload the page and enter it again if needed.",
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[str, int]:
        db.session.rollback()
        return render_error(error.code or 500)

    # A killed connection surfaces as OperationalError, or as InterfaceError ("the connection is
    # closed") when psycopg notices first: either way the database cannot be reached, not a bug.
    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def database_unavailable(error: DBAPIError) -> tuple[str, int]:
        app.logger.warning("database unavailable: %s", type(error.orig).__name__)
        _rollback_quietly()
        return render_error(503)

    # Input the database cannot hold (PostgreSQL refuses a NUL byte in text) is the request's
    # fault, not the server's: nothing is stored and the user is told, never a 500.
    @app.errorhandler(DataError)
    def data_refused(error: DataError) -> tuple[str, int]:
        app.logger.info("input refused by the database: %s", type(error.orig).__name__)
        _rollback_quietly()
        return render_error(
            400, "The form contained characters that cannot be stored. Nothing was saved."
        )

    @app.errorhandler(InternalServerError)
    def internal_error(error: InternalServerError) -> tuple[str, int]:
        _rollback_quietly()
        return render_error(500)


def _rollback_quietly() -> None:
    try:
        db.session.rollback()
    except Exception:  # the connection itself may be gone
        db.session.remove()
