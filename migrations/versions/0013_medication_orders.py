"""Orders: treatment and PRN medication orders, written and signed by a clinician, never edited
(superseded or discontinued); and what an administration records of the order it carries out:
the order, the concentration and volume drawn where relevant, and the clinician's acknowledgement
of a deviation from the order.

Administrations recorded before carry no order (none was recorded): their columns stay empty, and
their signed content is what it was (the digest leaves empty added columns out).

An order is never deleted or replaced, as the other clinical tables (0003, 0006).

Revision ID: 0013_medication_orders
Revises: 0012_second_factor
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from clinic.database import UTCDateTime

revision = "0013_medication_orders"
down_revision = "0012_second_factor"
branch_labels = None
depends_on = None

MESSAGE = "clinical records are never deleted: void the entry instead"
RECORD_TABLES = ("medication_order",)


def protect(tables):
    """0003's and 0006's triggers for new tables of the record: no DELETE, no REPLACE (SQLite)
    or TRUNCATE (PostgreSQL). Each table's only key is its id."""
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in tables:
        if postgres:
            # clinical_row_never_deleted() is 0003's.
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
    """A nullable column referring to `referred`.id, added in place (SQLite has no ALTER of
    constraints, but takes a named REFERENCES clause in ADD COLUMN; a batch rebuild would drop
    the table's triggers)."""
    name = f"fk_{table}_{column}_{referred}"
    if op.get_bind().dialect.name == "postgresql":
        op.add_column(table, sa.Column(column, sa.Integer(), nullable=True))
        op.create_foreign_key(op.f(name), table, referred, [column], ["id"])
    else:
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN {column} INTEGER "
            f"CONSTRAINT {name} REFERENCES {referred} (id)"
        )


def upgrade():
    op.create_table(
        "medication_order",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=True),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.Enum("treatment", "prn", name="orderkind", native_enum=False, length=24), nullable=False),
        sa.Column("drug", sa.String(length=120), nullable=False),
        sa.Column("concentration", sa.String(length=60), nullable=False),
        sa.Column("dose_amount", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("dose_unit", sa.String(length=20), nullable=False),
        sa.Column("route", sa.Enum("iv", "im", "intranasal", "subcutaneous", "oral", "sublingual", name="route", native_enum=False, length=24), nullable=False),
        sa.Column("method", sa.Enum("infusion", "bolus", "injection", "spray", "tablet", name="method", native_enum=False, length=24), nullable=False),
        sa.Column("rate_or_duration", sa.String(length=120), nullable=False),
        sa.Column("indication", sa.String(length=200), nullable=False),
        sa.Column("min_interval_minutes", sa.Integer(), nullable=True),
        sa.Column("max_doses_per_session", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.Enum("active", "superseded", "discontinued", name="orderstatus", native_enum=False, length=24), nullable=False),
        sa.Column("signed_by_id", sa.Integer(), nullable=False),
        sa.Column("signer_name", sa.String(length=120), nullable=False),
        sa.Column("signer_credentials", sa.String(length=40), nullable=False),
        sa.Column("signed_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("ended_by_id", sa.Integer(), nullable=True),
        sa.Column("discontinue_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["course_id"], ["treatment_course.id"], name=op.f("fk_medication_order_course_id_treatment_course")),
        sa.ForeignKeyConstraint(["ended_by_id"], ["user_account.id"], name=op.f("fk_medication_order_ended_by_id_user_account")),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"], name=op.f("fk_medication_order_patient_id_patient")),
        sa.ForeignKeyConstraint(["session_id"], ["infusion_session.id"], name=op.f("fk_medication_order_session_id_infusion_session")),
        sa.ForeignKeyConstraint(["signed_by_id"], ["user_account.id"], name=op.f("fk_medication_order_signed_by_id_user_account")),
        sa.ForeignKeyConstraint(["supersedes_id"], ["medication_order.id"], name=op.f("fk_medication_order_supersedes_id_medication_order")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_medication_order")),
    )
    for column in ("patient_id", "course_id", "session_id", "status"):
        op.create_index(op.f(f"ix_medication_order_{column}"), "medication_order", [column])
    protect(RECORD_TABLES)
    # Plain ADD COLUMNs on both databases: a batch rebuild (SQLite) would drop the triggers.
    add_reference("administration", "order_id", "medication_order")
    op.create_index(op.f("ix_administration_order_id"), "administration", ["order_id"])
    op.add_column("administration", sa.Column("concentration", sa.String(length=60), nullable=True))
    op.add_column("administration", sa.Column("volume_ml", sa.Numeric(precision=14, scale=4), nullable=True))
    op.add_column("administration", sa.Column("deviation_acknowledged_at", UTCDateTime(), nullable=True))
    add_reference("administration", "deviation_acknowledged_by_id", "user_account")
    op.add_column("administration", sa.Column("deviation_note", sa.Text(), nullable=True))


def downgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    op.drop_column("administration", "deviation_note")
    if postgres:
        op.drop_constraint(op.f("fk_administration_deviation_acknowledged_by_id_user_account"), "administration", type_="foreignkey")
    op.drop_column("administration", "deviation_acknowledged_by_id")
    op.drop_column("administration", "deviation_acknowledged_at")
    op.drop_column("administration", "volume_ml")
    op.drop_column("administration", "concentration")
    op.drop_index(op.f("ix_administration_order_id"), table_name="administration")
    if postgres:
        op.drop_constraint(op.f("fk_administration_order_id_medication_order"), "administration", type_="foreignkey")
    op.drop_column("administration", "order_id")
    unprotect(RECORD_TABLES)
    for column in ("patient_id", "course_id", "session_id", "status"):
        op.drop_index(op.f(f"ix_medication_order_{column}"), table_name="medication_order")
    op.drop_table("medication_order")
