"""Clinical rows are never deleted: triggers refuse DELETE on the record's tables.

Nothing in the app deletes (entries are voided); the triggers make that hold for anyone with a
database connection too, as the audit table's triggers do for the trail.

Revision ID: 0003_clinical_rows_never_deleted
Revises: 0002_clinical_record
Create Date: 2026-11-25
"""

from alembic import op

revision = "0003_clinical_rows_never_deleted"
down_revision = "0002_clinical_record"
branch_labels = None
depends_on = None

CLINICAL_TABLES = (
    "patient",
    "infusion_session",
    "administration",
    "infusion_event",
    "monitoring_entry",
    "score",
    "checklist_completion",
    "signature",
    "addendum",
)
MESSAGE = "clinical records are never deleted: void the entry instead"


def upgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute(
            f"""
            CREATE FUNCTION clinical_row_never_deleted() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION '{MESSAGE}';
            END;
            $$ LANGUAGE plpgsql
            """
        )
    for table in CLINICAL_TABLES:
        if postgres:
            op.execute(
                f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION clinical_row_never_deleted()"
            )
        else:
            op.execute(
                f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
            )


def downgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in CLINICAL_TABLES:
        op.execute(
            f"DROP TRIGGER {table}_no_delete ON {table}"
            if postgres
            else f"DROP TRIGGER {table}_no_delete"
        )
    if postgres:
        op.execute("DROP FUNCTION clinical_row_never_deleted()")
