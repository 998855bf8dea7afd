"""Route profiles and the pre-session screening (issue 14): an administration's purpose,
treatment or rescue; a clinician's override of the route's minimum observation at discharge; and
the screening table (one per session, corrected in place, never deleted), with a clinician's
override of a no-go.

Every administration recorded before was the treatment: the column is added with that value, so
T+0 and the observation clock read them as before, and their signed content is what it was (the
digest leaves `purpose` out at "treatment"). Sessions discharged before carry no override.

Revision ID: 0014_screening_and_profiles
Revises: 0013_medication_orders
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from clinic.database import UTCDateTime

revision = "0014_screening_and_profiles"
down_revision = "0013_medication_orders"
branch_labels = None
depends_on = None


MESSAGE = "clinical records are never deleted: void the entry instead"
RECORD_TABLES = ("screening",)


def protect(tables):
    """0003's and 0006's triggers for new tables of the record, as 0013 adds them."""
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in tables:
        if postgres:
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


def unprotect(tables):
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in tables:
        if postgres:
            op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
            op.execute(f"DROP TRIGGER {table}_no_delete ON {table}")
        else:
            for name in ("no_delete", "no_replace_on_insert", "no_replace_on_update"):
                op.execute(f"DROP TRIGGER {table}_{name}")


def add_reference(table, column, referred):
    """A nullable column referring to `referred`.id, added in place (a batch rebuild on SQLite
    would drop the table's triggers), as 0013 does."""
    name = f"fk_{table}_{column}_{referred}"
    if op.get_bind().dialect.name == "postgresql":
        op.add_column(table, sa.Column(column, sa.Integer(), nullable=True))
        op.create_foreign_key(op.f(name), table, referred, [column], ["id"])
    else:
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN {column} INTEGER "
            f"CONSTRAINT {name} REFERENCES {referred} (id)"
        )


def drop_reference(table, column, referred):
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(op.f(f"fk_{table}_{column}_{referred}"), table, type_="foreignkey")
    op.drop_column(table, column)


def upgrade():
    op.add_column(
        "administration",
        sa.Column(
            "purpose",
            sa.Enum("treatment", "rescue", name="administrationpurpose", native_enum=False, length=24),
            nullable=False,
            server_default="treatment",
        ),
    )
    add_reference("infusion_session", "discharge_override_by_id", "user_account")
    op.add_column("infusion_session", sa.Column("discharge_override_reason", sa.Text(), nullable=True))
    op.create_table(
        "screening",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("pregnancy", sa.Enum("not_applicable", "negative", "positive", name="pregnancy", native_enum=False, length=24), nullable=False),
        sa.Column("last_solid_food_at", UTCDateTime(), nullable=True),
        sa.Column("last_clear_fluid_at", UTCDateTime(), nullable=True),
        sa.Column("concomitant_medicines", sa.JSON(), nullable=False),
        sa.Column("alcohol_or_drugs", sa.Boolean(), nullable=False),
        sa.Column("new_problems", sa.Text(), nullable=False),
        sa.Column("suicidality_positive", sa.Boolean(), nullable=False),
        sa.Column("escort_present", sa.Boolean(), nullable=False),
        sa.Column("escort_name", sa.String(length=120), nullable=False),
        sa.Column("escort_relationship", sa.String(length=60), nullable=False),
        sa.Column("escort_phone", sa.String(length=40), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("override_reason", sa.Text(), nullable=True),
        sa.Column("override_by_id", sa.Integer(), nullable=True),
        sa.Column("override_at", UTCDateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["infusion_session.id"], name=op.f("fk_screening_session_id_infusion_session")),
        sa.ForeignKeyConstraint(["recorded_by_id"], ["user_account.id"], name=op.f("fk_screening_recorded_by_id_user_account")),
        sa.ForeignKeyConstraint(["override_by_id"], ["user_account.id"], name=op.f("fk_screening_override_by_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screening")),
        sa.UniqueConstraint("session_id", name=op.f("uq_screening_session_id")),
    )
    protect(RECORD_TABLES)


def downgrade():
    unprotect(RECORD_TABLES)
    op.drop_table("screening")
    op.drop_column("infusion_session", "discharge_override_reason")
    drop_reference("infusion_session", "discharge_override_by_id", "user_account")
    op.drop_column("administration", "purpose")
