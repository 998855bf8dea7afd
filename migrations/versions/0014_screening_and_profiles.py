"""Route profiles (issue 14): an administration's purpose, treatment or rescue, and a clinician's
override of the route's minimum observation at discharge.

Every administration recorded before was the treatment: the column is added with that value, so
T+0 and the observation clock read them as before, and their signed content is what it was (the
digest leaves `purpose` out at "treatment"). Sessions discharged before carry no override.

Revision ID: 0014_screening_and_profiles
Revises: 0013_medication_orders
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_screening_and_profiles"
down_revision = "0013_medication_orders"
branch_labels = None
depends_on = None


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


def downgrade():
    op.drop_column("infusion_session", "discharge_override_reason")
    drop_reference("infusion_session", "discharge_override_by_id", "user_account")
    op.drop_column("administration", "purpose")
