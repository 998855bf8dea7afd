"""Discharge readiness (issue 14): the post-treatment instruction texts (versioned data that
clinicians maintain, seeded with the clinic's first version), and the discharge assessment (a
modified Aldrete, the escort confirmed from the screening, the instruction version given).

Sessions discharged before have no assessment: none is made up from their checklist ticks, which
stay as they were recorded.

Revision ID: 0014c_discharge_assessment
Revises: 0014b_adverse_events
Create Date: 2026-12-02
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from clinic.database import UTCDateTime

revision = "0014c_discharge_assessment"
down_revision = "0014b_adverse_events"
branch_labels = None
depends_on = None

MESSAGE = "clinical records are never deleted: void the entry instead"
TABLE = "discharge_assessment"

FIRST_INSTRUCTIONS = (
    "Do not drive, operate machinery or make major decisions until the next day, after a "
    "restful sleep. Go home with your escort and rest. Do not drink alcohol today. Eat lightly. "
    "Call the clinic if you feel worse, if your mood drops, or if you have thoughts of harming "
    "yourself; in an emergency call 911."
)


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
    instruction_text = op.create_table(
        "instruction_text",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("version", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instruction_text")),
        sa.UniqueConstraint("code", "version", name=op.f("uq_instruction_text_code")),
    )
    op.bulk_insert(
        instruction_text,
        [
            {
                "code": "post_treatment",
                "version": "1",
                "title": "After your ketamine treatment",
                "body": FIRST_INSTRUCTIONS,
                "active": True,
                "created_at": datetime(2026, 12, 2, tzinfo=UTC),
            }
        ],
    )
    op.create_table(
        TABLE,
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("activity", sa.Integer(), nullable=False),
        sa.Column("respiration", sa.Integer(), nullable=False),
        sa.Column("circulation", sa.Integer(), nullable=False),
        sa.Column("consciousness", sa.Integer(), nullable=False),
        sa.Column("spo2", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("escort_confirmed", sa.Boolean(), nullable=False),
        sa.Column("instruction_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("voided_at", UTCDateTime(), nullable=True),
        sa.Column("void_reason", sa.Text(), nullable=True),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=False),
        sa.Column("voided_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["instruction_id"], ["instruction_text.id"], name=op.f("fk_discharge_assessment_instruction_id_instruction_text")),
        sa.ForeignKeyConstraint(["recorded_by_id"], ["user_account.id"], name=op.f("fk_discharge_assessment_recorded_by_id_user_account")),
        sa.ForeignKeyConstraint(["session_id"], ["infusion_session.id"], name=op.f("fk_discharge_assessment_session_id_infusion_session")),
        sa.ForeignKeyConstraint(["voided_by_id"], ["user_account.id"], name=op.f("fk_discharge_assessment_voided_by_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discharge_assessment")),
    )
    op.create_index(op.f("ix_discharge_assessment_session_id"), TABLE, ["session_id"])
    protect(TABLE)


def downgrade():
    unprotect(TABLE)
    op.drop_index(op.f("ix_discharge_assessment_session_id"), table_name=TABLE)
    op.drop_table(TABLE)
    op.drop_table("instruction_text")
