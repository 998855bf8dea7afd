"""Consents are records: consent types (data, seeded), each patient's consents, and the consent a
session was opened under.

The "consent on file" checkbox of the sessions opened before stays as it was ticked: the column
is kept (read, never offered again) and shown on those sessions, so nothing recorded is lost and
every signature already given still matches its session (the signed content holds the column).
Since then the app sets it with `consent_id`, the consent that covered the route. No consent
record is made up from a checkbox: a tick named no document, route, date or witness.

A consent is never deleted or replaced, as the other clinical tables (0003, 0006).

Revision ID: 0009_consent_records
Revises: 0008_sign_in_throttle
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

from clinic.database import UTCDateTime

revision = "0009_consent_records"
down_revision = "0008_sign_in_throttle"
branch_labels = None
depends_on = None

ROUTE = sa.Enum(
    "iv", "im", "intranasal", "subcutaneous", "oral", "sublingual",
    name="route", native_enum=False, length=24,
)
CONSENT_TYPES = [
    {"code": "iv_ketamine", "name": "IV ketamine", "route": "iv", "requires_rems": False},
    {"code": "im_ketamine", "name": "IM ketamine", "route": "im", "requires_rems": False},
    {
        "code": "intranasal_esketamine",
        "name": "Intranasal esketamine (REMS enrolment)",
        "route": "intranasal",
        "requires_rems": True,
    },
    {"code": "sc_ketamine", "name": "Subcutaneous ketamine", "route": "subcutaneous", "requires_rems": False},
    {"code": "oral_ketamine", "name": "Oral ketamine", "route": "oral", "requires_rems": False},
    {"code": "sublingual_ketamine", "name": "Sublingual ketamine", "route": "sublingual", "requires_rems": False},
]
MESSAGE = "clinical records are never deleted: void the entry instead"
RECORD_TABLES = ("consent",)


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


def upgrade():
    consent_type = op.create_table(
        "consent_type",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("route", ROUTE, nullable=False),
        sa.Column("requires_rems", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_type")),
        sa.UniqueConstraint("code", name=op.f("uq_consent_type_code")),
    )
    op.bulk_insert(
        consent_type,
        [{**row, "position": n, "active": True} for n, row in enumerate(CONSENT_TYPES, start=1)],
    )
    op.create_table(
        "consent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("consent_type_id", sa.Integer(), nullable=False),
        sa.Column("document_title", sa.String(length=200), nullable=False),
        sa.Column("document_version", sa.String(length=40), nullable=False),
        sa.Column("signed_on", sa.Date(), nullable=False),
        sa.Column("witnessed_by", sa.String(length=120), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=False),
        sa.Column("withdrawn_at", UTCDateTime(), nullable=True),
        sa.Column("withdrawn_reason", sa.Text(), nullable=True),
        sa.Column("withdrawn_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["consent_type_id"], ["consent_type.id"], name=op.f("fk_consent_consent_type_id_consent_type")),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"], name=op.f("fk_consent_patient_id_patient")),
        sa.ForeignKeyConstraint(["recorded_by_id"], ["user_account.id"], name=op.f("fk_consent_recorded_by_id_user_account")),
        sa.ForeignKeyConstraint(["withdrawn_by_id"], ["user_account.id"], name=op.f("fk_consent_withdrawn_by_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent")),
    )
    op.create_index(op.f("ix_consent_patient_id"), "consent", ["patient_id"])
    protect(RECORD_TABLES)
    # A plain ADD COLUMN on both databases: a batch rebuild of infusion_session (SQLite) would
    # drop its triggers. Existing sessions keep their checkbox and have no consent record.
    add_reference("infusion_session", "consent_id", "consent")


def add_reference(table, column, referred):
    """A nullable column referring to `referred`.id, added in place (SQLite has no ALTER of
    constraints, but takes a named REFERENCES clause in ADD COLUMN)."""
    name = f"fk_{table}_{column}_{referred}"
    if op.get_bind().dialect.name == "postgresql":
        op.add_column(table, sa.Column(column, sa.Integer(), nullable=True))
        op.create_foreign_key(op.f(name), table, referred, [column], ["id"])
    else:
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN {column} INTEGER "
            f"CONSTRAINT {name} REFERENCES {referred} (id)"
        )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(
            op.f("fk_infusion_session_consent_id_consent"), "infusion_session", type_="foreignkey"
        )
    op.drop_column("infusion_session", "consent_id")
    unprotect(RECORD_TABLES)
    op.drop_index(op.f("ix_consent_patient_id"), table_name="consent")
    op.drop_table("consent")
    op.drop_table("consent_type")
