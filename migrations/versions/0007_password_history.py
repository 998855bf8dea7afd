"""Each account keeps the hashes of its latest passwords, so that an old one does not come back.

The history starts with the password each account has now: changing back to it is refused from
the first change on.

Revision ID: 0007_password_history
Revises: 0006_records_never_replaced
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from clinic.database import UTCDateTime, utcnow

revision = "0007_password_history"
down_revision = "0006_records_never_replaced"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "password_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("set_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], name=op.f("fk_password_history_user_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_history")),
    )
    op.create_index(op.f("ix_password_history_user_id"), "password_history", ["user_id"])
    users = sa.table("user_account", sa.column("id", sa.Integer()), sa.column("password_hash", sa.String()))
    history = sa.table(
        "password_history",
        sa.column("user_id", sa.Integer()),
        sa.column("password_hash", sa.String()),
        sa.column("set_at", UTCDateTime()),
    )
    # When the current password was chosen is not known: its entry is dated by this migration.
    op.execute(
        history.insert().from_select(
            ["user_id", "password_hash", "set_at"],
            sa.select(users.c.id, users.c.password_hash, sa.literal(utcnow(), UTCDateTime())).order_by(users.c.id),
        )
    )


def downgrade():
    op.drop_index(op.f("ix_password_history_user_id"), table_name="password_history")
    op.drop_table("password_history")
