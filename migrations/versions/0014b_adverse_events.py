"""Adverse events (issue 14): what happened during a session, its severity, the actions taken,
its resolution and outcome; and the adverse event a rescue medicine was given for.

Sessions recorded before have no adverse event (they were notes, and stay notes): nothing is
made up from a note. Administrations recorded before name no event; their signed content is what
it was (the digest leaves an empty added column out, and the new table out where a session has
no rows in it).

Revision ID: 0014b_adverse_events
Revises: 0014_screening_and_profiles
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from clinic.database import UTCDateTime

revision = "0014b_adverse_events"
down_revision = "0014_screening_and_profiles"
branch_labels = None
depends_on = None

MESSAGE = "clinical records are never deleted: void the entry instead"
TABLE = "adverse_event"


def protect(table):
    """0003's and 0006's triggers for a new table of the record, as 0013 adds them."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION clinical_row_never_deleted()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION clinical_row_never_deleted()"
        )
    else:
        op.execute(
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_replace_on_insert BEFORE INSERT ON {table} "
            f"WHEN EXISTS (SELECT 1 FROM {table} WHERE id = NEW.id) "
            f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_replace_on_update BEFORE UPDATE OF id ON {table} "
            f"WHEN EXISTS (SELECT 1 FROM {table} WHERE id = NEW.id AND id <> OLD.id) "
            f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
        )


def unprotect(table):
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
        op.execute(f"DROP TRIGGER {table}_no_delete ON {table}")
    else:
        for name in ("no_delete", "no_replace_on_insert", "no_replace_on_update"):
            op.execute(f"DROP TRIGGER {table}_{name}")


def upgrade():
    op.create_table(
        TABLE,
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("type", sa.Enum("hypertension", "tachycardia", "desaturation", "nausea_vomiting", "emergence_reaction", "oversedation", "severe_dissociation", "allergic_reaction", "other", name="adverseeventtype", native_enum=False, length=24), nullable=False),
        sa.Column("severity", sa.Enum("mild", "moderate", "severe", name="adverseeventseverity", native_enum=False, length=24), nullable=False),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("outcome", sa.Enum("resolved", "ongoing", "transferred", name="adverseeventoutcome", native_enum=False, length=24), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("voided_at", UTCDateTime(), nullable=True),
        sa.Column("void_reason", sa.Text(), nullable=True),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=False),
        sa.Column("voided_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["recorded_by_id"], ["user_account.id"], name=op.f("fk_adverse_event_recorded_by_id_user_account")),
        sa.ForeignKeyConstraint(["session_id"], ["infusion_session.id"], name=op.f("fk_adverse_event_session_id_infusion_session")),
        sa.ForeignKeyConstraint(["voided_by_id"], ["user_account.id"], name=op.f("fk_adverse_event_voided_by_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adverse_event")),
    )
    op.create_index(op.f("ix_adverse_event_session_id"), TABLE, ["session_id"])
    protect(TABLE)
    # A plain ADD COLUMN: a batch rebuild (SQLite) would drop the administration's triggers.
    name = "fk_administration_adverse_event_id_adverse_event"
    if op.get_bind().dialect.name == "postgresql":
        op.add_column("administration", sa.Column("adverse_event_id", sa.Integer(), nullable=True))
        op.create_foreign_key(op.f(name), "administration", TABLE, ["adverse_event_id"], ["id"])
    else:
        op.execute(
            "ALTER TABLE administration ADD COLUMN adverse_event_id INTEGER "
            f"CONSTRAINT {name} REFERENCES {TABLE} (id)"
        )
    op.create_index(op.f("ix_administration_adverse_event_id"), "administration", ["adverse_event_id"])


def downgrade():
    op.drop_index(op.f("ix_administration_adverse_event_id"), table_name="administration")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(op.f("fk_administration_adverse_event_id_adverse_event"), "administration", type_="foreignkey")
    op.drop_column("administration", "adverse_event_id")
    unprotect(TABLE)
    op.drop_index(op.f("ix_adverse_event_session_id"), table_name=TABLE)
    op.drop_table(TABLE)
