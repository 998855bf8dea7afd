"""No record is replaced or deleted behind the triggers, and staff accounts are never deleted.

SQLite resolves an `INSERT OR REPLACE` (or `UPDATE OR REPLACE`) that collides with a row by
deleting that row first, and unless the connection has turned `PRAGMA recursive_triggers` on
(off by default; the app turns it on for its own connections, but the sqlite3 shell does not) that
delete fires no DELETE trigger: a REPLACE rewrote an audit event and removed a patient. Here a
trigger refuses any insert, or any change of a key, that would collide with an existing row on
its primary key or a unique key, so the conflict never reaches REPLACE, whatever the connection.
A unique key added to one of these tables later needs its clause here too.

PostgreSQL has no REPLACE (`ON CONFLICT DO UPDATE` fires the UPDATE triggers); TRUNCATE, which
fires no row trigger, is refused on these tables as 0001 does for the audit trail.

Staff accounts are deactivated, never deleted (DESIGN.md §3): the trail and the record name them.

Revision ID: 0006_records_never_replaced
Revises: 0005_score_risk_flag_index
Create Date: 2026-11-26
"""

from alembic import op

revision = "0006_records_never_replaced"
down_revision = "0005_score_risk_flag_index"
branch_labels = None
depends_on = None

AUDIT_MESSAGE = "audit_event is append-only"
CLINICAL_MESSAGE = "clinical records are never deleted: void the entry instead"
STAFF_MESSAGE = "staff accounts are never deleted: deactivate them instead"

# Each table's primary and unique keys: a row colliding with an existing one on any of them is
# refused. Usernames are unique whatever their case (0001's index on lower(username)).
KEYS: dict[str, tuple[str, ...]] = {
    "audit_event": ("id", "hash"),
    "user_account": ("id", "session_token", "username"),
    "patient": ("id", "mrn"),
    "infusion_session": ("id",),
    "administration": ("id",),
    "infusion_event": ("id",),
    "monitoring_entry": ("id",),
    "score": ("id",),
    "checklist_completion": ("id",),
    "signature": ("id", "session_id"),
    "addendum": ("id",),
}
CASE_INSENSITIVE = {("user_account", "username")}
CLINICAL_TABLES = tuple(table for table in KEYS if table not in ("audit_event", "user_account"))


def _message(table: str) -> str:
    return {"audit_event": AUDIT_MESSAGE, "user_account": STAFF_MESSAGE}.get(
        table, CLINICAL_MESSAGE
    )


def _same(table: str, column: str) -> str:
    if (table, column) in CASE_INSENSITIVE:
        return f"lower({column}) = lower(NEW.{column})"
    return f"{column} = NEW.{column}"


def _sqlite_upgrade() -> None:
    for table, keys in KEYS.items():
        collides = " OR ".join(_same(table, column) for column in keys)
        op.execute(
            f"CREATE TRIGGER {table}_no_replace_on_insert BEFORE INSERT ON {table} "
            f"WHEN EXISTS (SELECT 1 FROM {table} WHERE {collides}) "
            f"BEGIN SELECT RAISE(ABORT, '{_message(table)}'); END"
        )
        if table == "audit_event":
            continue  # 0001 refuses every UPDATE of the trail
        columns = ", ".join(keys)
        op.execute(
            f"CREATE TRIGGER {table}_no_replace_on_update BEFORE UPDATE OF {columns} ON {table} "
            f"WHEN EXISTS (SELECT 1 FROM {table} WHERE ({collides}) AND id <> OLD.id) "
            f"BEGIN SELECT RAISE(ABORT, '{_message(table)}'); END"
        )
    op.execute(
        "CREATE TRIGGER user_account_no_delete BEFORE DELETE ON user_account "
        f"BEGIN SELECT RAISE(ABORT, '{STAFF_MESSAGE}'); END"
    )


def _postgresql_upgrade() -> None:
    op.execute(
        f"""
        CREATE FUNCTION staff_account_never_deleted() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION '{STAFF_MESSAGE}';
        END;
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        "CREATE TRIGGER user_account_no_delete BEFORE DELETE ON user_account "
        "FOR EACH ROW EXECUTE FUNCTION staff_account_never_deleted()"
    )
    op.execute(
        "CREATE TRIGGER user_account_no_truncate BEFORE TRUNCATE ON user_account "
        "FOR EACH STATEMENT EXECUTE FUNCTION staff_account_never_deleted()"
    )
    for table in CLINICAL_TABLES:
        # clinical_row_never_deleted() is 0003's.
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION clinical_row_never_deleted()"
        )


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_upgrade()
    else:
        _sqlite_upgrade()


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table in CLINICAL_TABLES:
            op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
        op.execute("DROP TRIGGER user_account_no_truncate ON user_account")
        op.execute("DROP TRIGGER user_account_no_delete ON user_account")
        op.execute("DROP FUNCTION staff_account_never_deleted()")
        return
    op.execute("DROP TRIGGER user_account_no_delete")
    for table in KEYS:
        op.execute(f"DROP TRIGGER {table}_no_replace_on_insert")
        if table != "audit_event":
            op.execute(f"DROP TRIGGER {table}_no_replace_on_update")
