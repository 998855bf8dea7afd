"""Flagged scores indexed apart: the risk banner no longer reads every score of the clinic.

Revision ID: 0005_score_risk_flag_index
Revises: 0004_submission_payload_hash
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_score_risk_flag_index"
down_revision = "0004_submission_payload_hash"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        "ix_score_risk_flagged",
        "score",
        ["session_id"],
        postgresql_where=sa.text("risk_flag IS true AND voided_at IS NULL"),
        sqlite_where=sa.text("risk_flag IS 1 AND voided_at IS NULL"),
    )


def downgrade():
    op.drop_index("ix_score_risk_flagged", table_name="score")
