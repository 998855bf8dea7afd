"""The benchmark's own database: created fresh for one run, migrated, and gone afterwards."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@contextmanager
def bench_database(kind: str, workdir: Path, admin_url: str = POSTGRES_ADMIN_URL) -> Iterator[str]:
    """Yield the URL of an empty database; drop it (PostgreSQL) when the run ends, however."""
    if kind == "sqlite":
        # The file lives in the run's temporary directory, removed with it.
        yield f"sqlite:///{workdir / 'bench.sqlite3'}"
        return
    if kind != "postgresql":
        raise ValueError(f"BENCH_DB must be sqlite or postgresql, not {kind!r}")
    url = make_url(admin_url)
    if url.host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError("the benchmark only talks to a database on loopback")
    name = f"clinic_bench_{secrets.token_hex(4)}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            # FORCE: a server that did not stop cleanly must not keep the database alive.
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
