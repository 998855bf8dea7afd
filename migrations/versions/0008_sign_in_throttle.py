"""Failed sign-ins are counted per key (username, known device, client address, re-entered
password) in a table of their own, and hold further attempts instead of locking the account.

The account's own counter and lock go: a lock on the account let anyone who knew a username
sign its owner out and keep her out (issue 12). A lock in force when this runs is dropped with
them; the new counts start empty.

Revision ID: 0008_sign_in_throttle
Revises: 0007_password_history
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

from clinic.database import UTCDateTime

revision = "0008_sign_in_throttle"
down_revision = "0007_password_history"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "sign_in_throttle",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.Enum("account", "device", "address", "reauth", name="throttlescope", native_enum=False, length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failed_at", UTCDateTime(), nullable=False),
        sa.Column("held_until", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], name=op.f("fk_sign_in_throttle_user_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_throttle")),
        sa.UniqueConstraint("key", name=op.f("uq_sign_in_throttle_key")),
    )
    op.create_index(op.f("ix_sign_in_throttle_user_id"), "sign_in_throttle", ["user_id"])
    op.create_index(op.f("ix_sign_in_throttle_last_failed_at"), "sign_in_throttle", ["last_failed_at"])
    # A plain ALTER TABLE ... DROP COLUMN on both databases (SQLite 3.35 and later): a batch
    # rebuild of user_account would drop its triggers and its index on lower(username).
    op.drop_column("user_account", "failed_login_count")
    op.drop_column("user_account", "locked_until")


def downgrade():
    op.add_column("user_account", sa.Column("locked_until", UTCDateTime(), nullable=True))
    op.add_column("user_account", sa.Column("failed_login_count", sa.Integer(), nullable=False, server_default="0"))
    op.drop_index(op.f("ix_sign_in_throttle_last_failed_at"), table_name="sign_in_throttle")
    op.drop_index(op.f("ix_sign_in_throttle_user_id"), table_name="sign_in_throttle")
    op.drop_table("sign_in_throttle")
