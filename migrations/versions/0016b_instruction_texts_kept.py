"""Post-treatment instruction texts are kept as given: a version is never deleted, and its code,
version, title and body never change (only whether it is still offered, `active`, does).

The handout and the discharge assessment show "the version that was given"; if that row could
be edited or removed, the record of what the patient was told would change with it. A new text
is a new version (DESIGN.md §3). The other tables without these triggers are configuration or
working state, listed with their reasons in tests/test_record_tables_kept.py.

Revision ID: 0016b_instruction_texts_kept
Revises: 0016_register
Create Date: 2026-12-02
"""

from alembic import op

revision = "0016b_instruction_texts_kept"
down_revision = "0016_register"
branch_labels = None
depends_on = None

MESSAGE = "instruction texts are kept as given: add a new version instead"
FIXED = ("code", "version", "title", "body")


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in FIXED)
        op.execute(
            f"""
            CREATE FUNCTION instruction_text_kept() RETURNS trigger AS $$
            BEGIN
                IF TG_OP = 'UPDATE' AND NOT ({changed}) THEN
                    RETURN NEW;
                END IF;
                RAISE EXCEPTION '{MESSAGE}';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER instruction_text_no_delete BEFORE UPDATE OR DELETE ON "
            "instruction_text FOR EACH ROW EXECUTE FUNCTION instruction_text_kept()"
        )
        op.execute(
            "CREATE TRIGGER instruction_text_no_truncate BEFORE TRUNCATE ON instruction_text "
            "FOR EACH STATEMENT EXECUTE FUNCTION instruction_text_kept()"
        )
        return
    changed = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in FIXED)
    op.execute(
        "CREATE TRIGGER instruction_text_no_delete BEFORE DELETE ON instruction_text "
        f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
    )
    op.execute(
        "CREATE TRIGGER instruction_text_no_change BEFORE UPDATE ON instruction_text "
        f"WHEN {changed} BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
    )
    # A REPLACE deletes the row it collides with, without firing the DELETE trigger.
    op.execute(
        "CREATE TRIGGER instruction_text_no_replace BEFORE INSERT ON instruction_text "
        "WHEN EXISTS (SELECT 1 FROM instruction_text WHERE id = NEW.id "
        "OR (code = NEW.code AND version = NEW.version)) "
        f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
    )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER instruction_text_no_truncate ON instruction_text")
        op.execute("DROP TRIGGER instruction_text_no_delete ON instruction_text")
        op.execute("DROP FUNCTION instruction_text_kept()")
        return
    for name in ("no_delete", "no_change", "no_replace"):
        op.execute(f"DROP TRIGGER instruction_text_{name}")
