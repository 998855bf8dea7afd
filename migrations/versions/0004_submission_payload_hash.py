"""A form submission remembers a hash of the values posted with its one-time key.

The same key coming back with other values (a restored page, edited and sent again) is then
refused instead of being taken for a retry and silently storing nothing.

Revision ID: 0004_submission_payload_hash
Revises: 0003_clinical_rows_never_deleted
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_submission_payload_hash"
down_revision = "0003_clinical_rows_never_deleted"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("form_submission") as batch_op:
        batch_op.add_column(sa.Column("payload_hash", sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table("form_submission") as batch_op:
        batch_op.drop_column("payload_hash")
