"""SQLite behaviour the app relies on: foreign keys, WAL, delete triggers that a REPLACE fires
too, and writes that queue instead of failing.

Every transaction on SQLite starts with BEGIN IMMEDIATE, so writers take the database lock up
front and wait for it (busy timeout) rather than fail half-way with "database is locked". That is
also what serialises appends to the audit chain on the embedded database.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

BUSY_TIMEOUT_MS = 30_000
# An execution option for a transaction that only reads, across many statements (`flask audit
# verify`): a deferred BEGIN, which in WAL mode reads one snapshot and lets writers go on.
READ_SNAPSHOT = "clinic_read_snapshot"


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # Hand transaction control to SQLAlchemy's "begin" event below.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    # A REPLACE deletes the row it collides with; only with this on does that delete fire the
    # tables' DELETE triggers (the migrations also refuse such collisions on any connection).
    cursor.execute("PRAGMA recursive_triggers = ON")
    cursor.close()


def _on_begin(connection: sa.Connection) -> None:
    if connection.dialect.name == "sqlite":
        read_only = connection.get_execution_options().get(READ_SNAPSHOT, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def install_sqlite_hooks() -> None:
    if not sa.event.contains(Engine, "connect", _on_connect):
        sa.event.listen(Engine, "connect", _on_connect)
        sa.event.listen(Engine, "begin", _on_begin)
