"""flask create-admin, bootstrap-admin, audit verify, audit anchor, seed-demo."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click
import sqlalchemy as sa
from flask import Flask
from flask.cli import AppGroup

from clinic.audit.services import (
    Anchor,
    VerifyResult,
    anchor_problem,
    current_anchor,
    verify_chain,
)
from clinic.auth.models import Role, User
from clinic.cli_checks import needs_schema
from clinic.demo import seed_demo_command
from clinic.extensions import db
from clinic.review.record_trail import check_records
from clinic.sqlite_support import READ_SNAPSHOT
from clinic.staff.services import StaffDetails, StaffError, create_user, generate_temporary_password

audit_cli = AppGroup("audit", help="The audit trail.")


@click.command("create-admin")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--full-name", default="Administrator", show_default=True)
@click.option("--must-change/--no-must-change", default=False, show_default=True)
@needs_schema
def create_admin(username: str, password: str, full_name: str, must_change: bool) -> None:
    """Create an admin account (for scripted set-up)."""
    try:
        create_user(
            None,
            username,
            StaffDetails(full_name=full_name, credentials="", role=Role.ADMIN),
            password,
            must_change_password=must_change,
        )
    except StaffError as error:
        raise click.ClickException(error.message) from error
    db.session.commit()
    click.echo(f"Admin account {username!r} created.")


@click.command("bootstrap-admin")
@needs_schema
def bootstrap_admin() -> None:
    """On a database without users, create `admin` with a one-time password printed here."""
    if db.session.scalar(sa.select(sa.func.count()).select_from(User)):
        return
    password = generate_temporary_password()
    create_user(
        None,
        "admin",
        StaffDetails(full_name="Administrator", credentials="", role=Role.ADMIN),
        password,
        must_change_password=True,
    )
    db.session.commit()
    click.echo("=" * 64)
    click.echo("First start: an admin account was created.")
    click.echo("  username: admin")
    click.echo(f"  password: {password}")
    click.echo("This password is shown once; you will choose a new one at first sign-in.")
    click.echo("=" * 64)


@audit_cli.command("verify")
@click.option(
    "--anchor",
    "anchors",
    multiple=True,
    metavar="ID:HASH",
    help="A head printed earlier by `flask audit anchor`; the trail must still hold it.",
)
@needs_schema
def audit_verify(anchors: tuple[str, ...]) -> None:
    """Check the whole chain, then every clinical row against its trail and every signed session
    against its signature; exit 1 and name the first broken event, or each row and column that
    differs, if anything was tampered with."""
    try:
        kept = [Anchor.parse(text) for text in anchors]
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--anchor") from None
    with _read_snapshot():
        result = _verified_or_exit()
        for anchor in kept:
            problem = anchor_problem(anchor)
            if problem:
                click.echo(f"Audit trail BROKEN: {problem}.", err=True)
                sys.exit(1)
        records = check_records()
    if not records.ok:
        for broken in records.problems:
            click.echo(f"record BROKEN: {broken}", err=True)
        sys.exit(1)
    found = f", {len(kept)} anchor(s) found" if kept else ""
    click.echo(
        f"Audit trail intact: {result.checked} events verified{found}, "
        f"{records.checked} records match their trail."
    )


@contextmanager
def _read_snapshot() -> Iterator[None]:
    """One read transaction for the whole check, so that what is charted meanwhile is seen
    whole (its row and its events) or not at all, and the clinic's writers go on meanwhile."""
    if db.session().in_transaction():  # a caller's transaction (a test's): read in it
        yield
        return
    snapshot = (
        {"isolation_level": "REPEATABLE READ"}
        if db.engine.dialect.name == "postgresql"
        else {READ_SNAPSHOT: True}
    )
    db.session.connection(execution_options=snapshot)
    try:
        yield
    finally:
        db.session.rollback()


@audit_cli.command("anchor")
@needs_schema
def audit_anchor() -> None:
    """Verify, then print the head to keep outside the database (for `verify --anchor`)."""
    _verified_or_exit()
    anchor = current_anchor()
    if anchor is None:
        click.echo("The audit trail is empty: nothing to anchor yet.")
        return
    click.echo(str(anchor))


def _verified_or_exit() -> VerifyResult:
    result = verify_chain()
    if not result.ok:
        click.echo(
            f"Audit trail BROKEN at event {result.first_broken_id}: {result.reason} "
            f"({result.checked} events verified before it).",
            err=True,
        )
        sys.exit(1)
    return result


def register_cli(app: Flask) -> None:
    app.cli.add_command(create_admin)
    app.cli.add_command(bootstrap_admin)
    app.cli.add_command(audit_cli)
    app.cli.add_command(seed_demo_command)
