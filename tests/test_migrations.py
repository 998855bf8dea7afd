"""The migrations build the schema the models declare: no table, column or index only in one."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext


# SQLite cannot reflect an index on an expression (lower(name)); PostgreSQL compares those too.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_migrated_schema_matches_the_models(db):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_partial_indexes_have_the_models_predicates(db):
    # compare_metadata does not compare an index's WHERE clause: read it back from the database.
    dialect = db.engine.dialect.name
    checked = []
    for table in db.metadata.sorted_tables:
        for index in table.indexes:
            predicate = index.dialect_options[dialect].get("where")
            if predicate is None:
                continue
            with db.engine.connect() as connection:
                if dialect == "postgresql":
                    stored = connection.scalar(
                        sa.text("SELECT indexdef FROM pg_indexes WHERE indexname = :name"),
                        {"name": index.name},
                    )
                else:
                    stored = connection.scalar(
                        sa.text("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :n"),
                        {"n": index.name},
                    )
            assert stored is not None, f"{index.name} is missing"
            assert _words(str(predicate)) in _words(stored), (index.name, stored)
            checked.append(index.name)
    assert "ix_score_risk_flagged" in checked


def _words(sql: str) -> str:
    # PostgreSQL writes the predicate back with its own parentheses and case.
    return " ".join(sql.replace("(", " ").replace(")", " ").lower().split())
