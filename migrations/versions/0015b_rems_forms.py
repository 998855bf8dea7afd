"""The esketamine REMS monitoring form: the patient's REMS patient ID on the patient record, and,
per session, the one answer the chart does not otherwise hold (when the patient would have been
ready to leave, were there no 2-hour minimum) and the form's submission (date, who). Everything
else on the form is read from the session's own record.

Patients registered before keep an empty REMS patient ID, which their next edit may fill. A REMS
form row is never deleted, as the clinical tables (0003, 0006).

Revision ID: 0015b_rems_forms
Revises: 0015_instruments
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

from clinic.database import UTCDateTime

revision = "0015b_rems_forms"
down_revision = "0015_instruments"
branch_labels = None
depends_on = None

MESSAGE = "clinical records are never deleted: void the entry instead"


def upgrade():
    op.add_column(
        "patient",
        sa.Column("rems_patient_id", sa.String(length=40), nullable=False, server_default=""),
    )
    op.create_table(
        "rems_form",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("ready_to_leave_minutes", sa.Integer(), nullable=True),
        sa.Column("ready_answered_by_id", sa.Integer(), nullable=True),
        sa.Column("ready_answered_at", UTCDateTime(), nullable=True),
        sa.Column("submitted_on", sa.Date(), nullable=True),
        sa.Column("submitted_by_id", sa.Integer(), nullable=True),
        sa.Column("submitted_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["session_id"], ["infusion_session.id"], name=op.f("fk_rems_form_session_id_infusion_session")),
        sa.ForeignKeyConstraint(["ready_answered_by_id"], ["user_account.id"], name=op.f("fk_rems_form_ready_answered_by_id_user_account")),
        sa.ForeignKeyConstraint(["submitted_by_id"], ["user_account.id"], name=op.f("fk_rems_form_submitted_by_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rems_form")),
        sa.UniqueConstraint("session_id", name=op.f("uq_rems_form_session_id")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER rems_form_no_delete BEFORE DELETE ON rems_form "
            "FOR EACH ROW EXECUTE FUNCTION clinical_row_never_deleted()"
        )
        op.execute(
            "CREATE TRIGGER rems_form_no_truncate BEFORE TRUNCATE ON rems_form "
            "FOR EACH STATEMENT EXECUTE FUNCTION clinical_row_never_deleted()"
        )
    else:
        op.execute(
            "CREATE TRIGGER rems_form_no_delete BEFORE DELETE ON rems_form "
            f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
        )
        op.execute(
            "CREATE TRIGGER rems_form_no_replace_on_insert BEFORE INSERT ON rems_form "
            "WHEN EXISTS (SELECT 1 FROM rems_form WHERE id = NEW.id "
            "OR session_id = NEW.session_id) "
            f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
        )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER rems_form_no_truncate ON rems_form")
        op.execute("DROP TRIGGER rems_form_no_delete ON rems_form")
    else:
        op.execute("DROP TRIGGER rems_form_no_replace_on_insert")
        op.execute("DROP TRIGGER rems_form_no_delete")
    op.drop_table("rems_form")
    op.drop_column("patient", "rems_patient_id")
