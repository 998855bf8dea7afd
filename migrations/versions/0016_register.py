"""The controlled-substance register: stock lots and a ledger per lot that is only appended to.

Administrations recorded before keep their free-text lot number exactly as it was typed: no
register lot is made up from it (nothing says how much the lot held or who received it), and
their signed content is untouched (no column of theirs changes). The register starts empty; a
clinic opens it by receiving its stock, with a witness.

Neither table's rows are ever deleted (0003, 0006's triggers) nor changed: a mistake in the
ledger is put right by a reversing entry, so UPDATE is refused too.

Revision ID: 0016_register
Revises: 0015b_rems_forms
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from clinic.database import UTCDateTime

revision = "0016_register"
down_revision = "0015b_rems_forms"
branch_labels = None
depends_on = None

DELETE_MESSAGE = "clinical records are never deleted: void the entry instead"
UPDATE_MESSAGE = "the register is never edited: add a reversing entry instead"
TABLES = ("stock_lot", "register_entry")

QUANTITY = sa.Numeric(precision=14, scale=4)


def upgrade():
    op.create_table(
        "stock_lot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("drug", sa.String(length=60), nullable=False),
        sa.Column("strength", sa.String(length=60), nullable=False),
        sa.Column("form", sa.Enum("vial", "nasal_device", name="lotform", native_enum=False, length=24), nullable=False),
        sa.Column("container_ml", QUANTITY, nullable=True),
        sa.Column("ndc", sa.String(length=20), nullable=False),
        sa.Column("lot_number", sa.String(length=60), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("supplier", sa.String(length=120), nullable=False),
        sa.Column("invoice", sa.String(length=60), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("received_by_id", sa.Integer(), nullable=False),
        sa.Column("witness_id", sa.Integer(), nullable=False),
        sa.Column("quantity_received", QUANTITY, nullable=False),
        sa.Column("unit", sa.String(length=10), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["received_by_id"], ["user_account.id"], name=op.f("fk_stock_lot_received_by_id_user_account")),
        sa.ForeignKeyConstraint(["witness_id"], ["user_account.id"], name=op.f("fk_stock_lot_witness_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_lot")),
        sa.UniqueConstraint("lot_number", "invoice", name=op.f("uq_stock_lot_lot_number")),
    )
    op.create_index(op.f("ix_stock_lot_received_on"), "stock_lot", ["received_on"])
    op.create_table(
        "register_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Enum("receipt", "draw", "waste", "return", "correction", "count", "void", name="entrykind", native_enum=False, length=24), nullable=False),
        sa.Column("quantity", QUANTITY, nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=False),
        sa.Column("witness_id", sa.Integer(), nullable=True),
        sa.Column("administration_id", sa.Integer(), nullable=True),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("drawn", QUANTITY, nullable=True),
        sa.Column("expected", QUANTITY, nullable=True),
        sa.Column("counted", QUANTITY, nullable=True),
        sa.Column("resolves_id", sa.Integer(), nullable=True),
        sa.Column("voids_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["lot_id"], ["stock_lot.id"], name=op.f("fk_register_entry_lot_id_stock_lot")),
        sa.ForeignKeyConstraint(["recorded_by_id"], ["user_account.id"], name=op.f("fk_register_entry_recorded_by_id_user_account")),
        sa.ForeignKeyConstraint(["witness_id"], ["user_account.id"], name=op.f("fk_register_entry_witness_id_user_account")),
        sa.ForeignKeyConstraint(["administration_id"], ["administration.id"], name=op.f("fk_register_entry_administration_id_administration")),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"], name=op.f("fk_register_entry_patient_id_patient")),
        sa.ForeignKeyConstraint(["resolves_id"], ["register_entry.id"], name=op.f("fk_register_entry_resolves_id_register_entry")),
        sa.ForeignKeyConstraint(["voids_id"], ["register_entry.id"], name=op.f("fk_register_entry_voids_id_register_entry")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_register_entry")),
        sa.UniqueConstraint("resolves_id", name=op.f("uq_register_entry_resolves_id")),
        sa.UniqueConstraint("voids_id", name=op.f("uq_register_entry_voids_id")),
    )
    for column in ("lot_id", "occurred_at", "administration_id"):
        op.create_index(op.f(f"ix_register_entry_{column}"), "register_entry", [column])
    protect(TABLES)


def protect(tables):
    """No DELETE (0003's message), no UPDATE, no REPLACE (SQLite) or TRUNCATE (PostgreSQL)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION register_row_never_changed() RETURNS trigger AS $$
            BEGIN
                IF TG_OP = 'UPDATE' THEN
                    RAISE EXCEPTION '{UPDATE_MESSAGE}';
                END IF;
                RAISE EXCEPTION '{DELETE_MESSAGE}';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        for table in tables:
            op.execute(
                f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION register_row_never_changed()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION register_row_never_changed()"
            )
        return
    for table in tables:
        op.execute(
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{DELETE_MESSAGE}'); END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{UPDATE_MESSAGE}'); END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_replace_on_insert BEFORE INSERT ON {table} "
            f"WHEN EXISTS (SELECT 1 FROM {table} WHERE id = NEW.id) "
            f"BEGIN SELECT RAISE(ABORT, '{DELETE_MESSAGE}'); END"
        )


def downgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in reversed(TABLES):
        if postgres:
            op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
            op.execute(f"DROP TRIGGER {table}_no_change ON {table}")
        else:
            for name in ("no_delete", "no_update", "no_replace_on_insert"):
                op.execute(f"DROP TRIGGER {table}_{name}")
    if postgres:
        op.execute("DROP FUNCTION register_row_never_changed()")
    for column in ("lot_id", "occurred_at", "administration_id"):
        op.drop_index(op.f(f"ix_register_entry_{column}"), table_name="register_entry")
    op.drop_table("register_entry")
    op.drop_index(op.f("ix_stock_lot_received_on"), table_name="stock_lot")
    op.drop_table("stock_lot")
