"""A second factor (TOTP) for staff accounts: the authenticator's secret (encrypted) and its state
on each account, and the recovery codes (hashed) in a table of their own.

Accounts carried over: every clinician and admin must set up a second factor at the next sign-in,
and their open sessions end now, so that from this migration on nobody signs a session or runs
accounts on a sign-in made without one. Nurses go on as before (SECOND_FACTOR_FOR_NURSES asks it
of them too).

The columns are added in place (ALTER TABLE ... ADD COLUMN on both databases): a batch rebuild of
user_account on SQLite would drop its triggers and its index on lower(username).

Revision ID: 0012_second_factor
Revises: 0011_treatment_courses
Create Date: 2026-11-28
"""

import secrets

import sqlalchemy as sa
from alembic import op

from clinic.database import UTCDateTime

revision = "0012_second_factor"
down_revision = "0011_treatment_courses"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("user_account", sa.Column("second_factor_secret", sa.String(length=255), nullable=True))
    op.add_column("user_account", sa.Column("second_factor_enrolled_at", UTCDateTime(), nullable=True))
    op.add_column("user_account", sa.Column("second_factor_last_step", sa.BigInteger(), nullable=True))
    op.add_column("user_account", sa.Column("second_factor_reset_at", UTCDateTime(), nullable=True))
    op.add_column(
        "user_account",
        sa.Column("must_enrol_second_factor", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_table(
        "recovery_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("salt", sa.String(length=32), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], name=op.f("fk_recovery_code_user_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_code")),
    )
    op.create_index(op.f("ix_recovery_code_user_id"), "recovery_code", ["user_id"])

    users = sa.table(
        "user_account",
        sa.column("id", sa.Integer()),
        sa.column("role", sa.String()),
        sa.column("session_token", sa.String()),
        sa.column("must_enrol_second_factor", sa.Boolean()),
    )
    connection = op.get_bind()
    carried = connection.execute(
        sa.select(users.c.id).where(users.c.role.in_(["clinician", "admin"])).order_by(users.c.id)
    ).scalars().all()
    for user_id in carried:
        # A new session token ends every session signed in before (User.session_token).
        connection.execute(
            users.update()
            .where(users.c.id == user_id)
            .values(must_enrol_second_factor=True, session_token=secrets.token_urlsafe(32))
        )


def downgrade():
    op.drop_index(op.f("ix_recovery_code_user_id"), table_name="recovery_code")
    op.drop_table("recovery_code")
    op.drop_column("user_account", "must_enrol_second_factor")
    op.drop_column("user_account", "second_factor_reset_at")
    op.drop_column("user_account", "second_factor_last_step")
    op.drop_column("user_account", "second_factor_enrolled_at")
    op.drop_column("user_account", "second_factor_secret")
