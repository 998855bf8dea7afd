"""What every command-line command shares: a database the migrations have not built is one clear
line, not a stack trace."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click
import sqlalchemy as sa

from clinic.extensions import db

UNMIGRATED = (
    "The database has no clinic tables yet: run `make migrate` "
    "(or `flask --app wsgi db upgrade`) first."
)


def needs_schema(command: Callable[..., None]) -> Callable[..., None]:
    """A command run on a database the migrations have not built says so in one line."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except (sa.exc.OperationalError, sa.exc.ProgrammingError) as error:
            db.session.rollback()
            if sa.inspect(db.engine).has_table("alembic_version"):
                raise
            raise click.ClickException(UNMIGRATED) from error

    return run
