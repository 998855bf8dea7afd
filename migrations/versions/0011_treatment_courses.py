"""Treatment courses and their response reviews, and the course each session belongs to.

Sessions opened before keep no course (none was recorded): they are shown without a place in a
course, and their signed content is what it was (the digest leaves an empty course out).

A course and a review are never deleted or replaced, as the other clinical tables (0003, 0006).

Revision ID: 0011_treatment_courses
Revises: 0009_consent_records
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from clinic.database import UTCDateTime

revision = "0011_treatment_courses"
down_revision = "0009_consent_records"
branch_labels = None
depends_on = None

MESSAGE = "clinical records are never deleted: void the entry instead"
RECORD_TABLES = ("treatment_course", "course_review")


def protect(tables):
    """0003's and 0006's triggers for new tables of the record: no DELETE, no REPLACE (SQLite)
    or TRUNCATE (PostgreSQL). Each table's only key is its id."""
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in tables:
        if postgres:
            # clinical_row_never_deleted() is 0003's.
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


def unprotect(tables):
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in tables:
        if postgres:
            op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
            op.execute(f"DROP TRIGGER {table}_no_delete ON {table}")
        else:
            for name in ("no_delete", "no_replace_on_insert", "no_replace_on_update"):
                op.execute(f"DROP TRIGGER {table}_{name}")


def add_reference(table, column, referred):
    """A nullable column referring to `referred`.id, added in place (SQLite has no ALTER of
    constraints, but takes a named REFERENCES clause in ADD COLUMN; a batch rebuild would drop
    the table's triggers)."""
    name = f"fk_{table}_{column}_{referred}"
    if op.get_bind().dialect.name == "postgresql":
        op.add_column(table, sa.Column(column, sa.Integer(), nullable=True))
        op.create_foreign_key(op.f(name), table, referred, [column], ["id"])
    else:
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN {column} INTEGER "
            f"CONSTRAINT {name} REFERENCES {referred} (id)"
        )


def upgrade():
    op.create_table(
        "treatment_course",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("indication", sa.Enum("depression", "fibromyalgia", "both", "other", name="indication", native_enum=False, length=24), nullable=False),
        sa.Column("protocol", sa.Enum("induction", "maintenance", "other", name="protocol", native_enum=False, length=24), nullable=False),
        sa.Column("protocol_name", sa.String(length=120), nullable=False),
        sa.Column("planned_sessions", sa.Integer(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("review_due", sa.Date(), nullable=True),
        sa.Column("clinician_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.Enum("active", "completed", "discontinued", name="coursestatus", native_enum=False, length=24), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("ended_by_id", sa.Integer(), nullable=True),
        sa.Column("end_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["clinician_id"], ["user_account.id"], name=op.f("fk_treatment_course_clinician_id_user_account")),
        sa.ForeignKeyConstraint(["ended_by_id"], ["user_account.id"], name=op.f("fk_treatment_course_ended_by_id_user_account")),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"], name=op.f("fk_treatment_course_patient_id_patient")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_treatment_course")),
    )
    op.create_index(op.f("ix_treatment_course_patient_id"), "treatment_course", ["patient_id"])
    op.create_table(
        "course_review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("reviewed_on", sa.Date(), nullable=False),
        sa.Column("clinician_id", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["clinician_id"], ["user_account.id"], name=op.f("fk_course_review_clinician_id_user_account")),
        sa.ForeignKeyConstraint(["course_id"], ["treatment_course.id"], name=op.f("fk_course_review_course_id_treatment_course")),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"], name=op.f("fk_course_review_patient_id_patient")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_course_review")),
    )
    op.create_index(op.f("ix_course_review_course_id"), "course_review", ["course_id"])
    protect(RECORD_TABLES)
    add_reference("infusion_session", "course_id", "treatment_course")
    op.create_index(op.f("ix_infusion_session_course_id"), "infusion_session", ["course_id"])


def downgrade():
    op.drop_index(op.f("ix_infusion_session_course_id"), table_name="infusion_session")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(
            op.f("fk_infusion_session_course_id_treatment_course"), "infusion_session", type_="foreignkey"
        )
    op.drop_column("infusion_session", "course_id")
    unprotect(RECORD_TABLES)
    op.drop_index(op.f("ix_course_review_course_id"), table_name="course_review")
    op.drop_table("course_review")
    op.drop_index(op.f("ix_treatment_course_patient_id"), table_name="treatment_course")
    op.drop_table("treatment_course")
