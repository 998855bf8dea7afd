"""Instruments as data: each version of an instrument's definition (items and their answers,
scoring, bands, flags, when it is taken, LOINC codes, licence note) is a row of
`instrument_version`, never changed once written (a trigger refuses UPDATE and DELETE): a clinic
changes an instrument by adding a version. PHQ-9 and pain NRS, until now rules in code, are loaded
as version 1 of their instruments, with GAD-7, the C-SSRS screener, CADSS and FIQR.

Scores already on the record keep every column as it was (their signed content is unchanged):
their `instrument_version_id` stays empty, which reads as version 1 of their instrument, whose
rules are those they were scored by. An "after the session" PHQ-9 keeps its timing, shown as taken
after dosing. A C-SSRS is recorded with a clinician's assessment note (`assessment_note`).

Revision ID: 0015_instruments
Revises: 0014c_discharge_assessment
Create Date: 2026-12-02
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from clinic.database import UTCDateTime

revision = "0015_instruments"
down_revision = "0014c_discharge_assessment"
branch_labels = None
depends_on = None

LOADED_AT = datetime(2026, 12, 2, tzinfo=UTC)
MESSAGE = "an instrument version is never changed: add a new version"

FREQUENCY = [
    [0, "Not at all"],
    [1, "Several days"],
    [2, "More than half the days"],
    [3, "Nearly every day"],
]
YES_NO = [[0, "No"], [1, "Yes"]]
CSSRS_FOLLOW_UP = [2, 1]  # items 3 to 5 are asked after a yes to item 2

PHQ9 = {
    "code": "phq9",
    "name": "PHQ-9",
    "stem": "Over the last 2 weeks, how often have you been bothered by any of the following "
    "problems?",
    "items": [
        {"text": "Little interest or pleasure in doing things", "options": FREQUENCY},
        {"text": "Feeling down, depressed, or hopeless", "options": FREQUENCY},
        {"text": "Trouble falling or staying asleep, or sleeping too much", "options": FREQUENCY},
        {"text": "Feeling tired or having little energy", "options": FREQUENCY},
        {"text": "Poor appetite or overeating", "options": FREQUENCY},
        {
            "text": "Feeling bad about yourself — or that you are a failure or have let yourself "
            "or your family down",
            "options": FREQUENCY,
        },
        {
            "text": "Trouble concentrating on things, such as reading the newspaper or watching "
            "television",
            "options": FREQUENCY,
        },
        {
            "text": "Moving or speaking so slowly that other people could have noticed? Or the "
            "opposite — being so fidgety or restless that you have been moving around a lot more "
            "than usual",
            "options": FREQUENCY,
        },
        {
            "text": "Thoughts that you would be better off dead or of hurting yourself in some way",
            "options": FREQUENCY,
            "loinc": "44260-8",
        },
    ],
    "scoring": "sum",
    "bands": [
        [0, "minimal"],
        [5, "mild"],
        [10, "moderate"],
        [15, "moderately severe"],
        [20, "severe"],
    ],
    "flags": [
        {"item": 9, "above": 0, "label": "Item 9 above 0: suicide risk", "requires": "cssrs"}
    ],
    "timing": "once_before_dosing",
    "loinc_panel": "44249-1",
    "loinc_total": "44261-6",
    "remission_below": 5,
    "licence": "Public domain (Kroenke, Spitzer & Williams, 2001).",
}

GAD7 = {
    "code": "gad7",
    "name": "GAD-7",
    "stem": "Over the last 2 weeks, how often have you been bothered by the following problems?",
    "items": [
        {"text": text, "options": FREQUENCY}
        for text in (
            "Feeling nervous, anxious, or on edge",
            "Not being able to stop or control worrying",
            "Worrying too much about different things",
            "Trouble relaxing",
            "Being so restless that it is hard to sit still",
            "Becoming easily annoyed or irritable",
            "Feeling afraid, as if something awful might happen",
        )
    ],
    "scoring": "sum",
    "bands": [[0, "minimal"], [5, "mild"], [10, "moderate"], [15, "severe"]],
    "timing": "once_before_dosing",
    "loinc_panel": "69737-5",
    "loinc_total": "70274-6",
    "remission_below": 5,
    "licence": "Free to reproduce (Spitzer, Kroenke, Williams & Löwe, 2006).",
}

PAIN = {
    "code": "pain_nrs",
    "name": "Pain NRS",
    "stem": "",
    "items": [
        {
            "name": "score",
            "text": "Pain (0 no pain to 10 worst imaginable)",
            "scale_text": "0 (no pain) to 10 (worst imaginable)",
            "options": [[value, str(value)] for value in range(11)],
        }
    ],
    "scoring": "sum",
    "timing": "before_and_after",
    "loinc_total": "72514-3",
    "licence": "Public domain.",
}

CSSRS = {
    "code": "cssrs",
    "name": "C-SSRS screener",
    "stem": "Since the last visit:",
    "items": [
        {
            "text": "Have you wished you were dead or wished you could go to sleep and not wake up?",
            "options": YES_NO,
        },
        {"text": "Have you actually had any thoughts of killing yourself?", "options": YES_NO},
        {
            "text": "Have you been thinking about how you might do this?",
            "options": YES_NO,
            "asked_if": CSSRS_FOLLOW_UP,
        },
        {
            "text": "Have you had these thoughts and had some intention of acting on them?",
            "options": YES_NO,
            "asked_if": CSSRS_FOLLOW_UP,
        },
        {
            "text": "Have you started to work out or worked out the details of how to kill "
            "yourself? Do you intend to carry out this plan?",
            "options": YES_NO,
            "asked_if": CSSRS_FOLLOW_UP,
        },
        {
            "text": "In the past 3 months, have you done anything, started to do anything, or "
            "prepared to do anything to end your life?",
            "options": YES_NO,
        },
    ],
    "scoring": "sum",
    "levels": [
        {"label": "high risk", "items": [4, 5, 6]},
        {"label": "moderate risk", "items": [3]},
        {"label": "low risk", "items": [1, 2]},
    ],
    "no_level": "negative",
    "timing": "when_triggered",
    "assessment": {"label": "Clinician's assessment", "required": True},
    "licence": "Columbia Lighthouse Project: free for clinical use.",
}

CADSS = {
    "code": "cadss",
    "name": "CADSS",
    "stem": "Clinician-Administered Dissociative States Scale: the total as scored on the "
    "clinic's licensed form.",
    "items": [
        {
            "name": "total",
            "text": "CADSS total (23 items, 0 to 4 each)",
            "minimum": 0,
            "maximum": 92,
        }
    ],
    "scoring": "entered_total",
    "total_item": "total",
    "timing": "at_peak",
    "licence": "Used under its owner's terms: the total is recorded as entered, without the "
    "licensed item texts.",
}

FIQR = {
    "code": "fiqr",
    "name": "FIQR",
    "stem": "Revised Fibromyalgia Impact Questionnaire: the domain totals as scored on the "
    "clinic's licensed form.",
    "items": [
        {"name": "function", "text": "Function (domain 1)", "minimum": 0, "maximum": 30},
        {"name": "overall", "text": "Overall impact (domain 2)", "minimum": 0, "maximum": 20},
        {"name": "symptoms", "text": "Symptoms (domain 3)", "minimum": 0, "maximum": 50},
        {"name": "total", "text": "FIQR total", "minimum": 0, "maximum": 100},
    ],
    "scoring": "entered_total",
    "total_item": "total",
    "timing": "once_before_dosing",
    "licence": "Used under its owner's terms: domain totals are recorded as entered, without the "
    "licensed item texts.",
}

SHIPPED = (PHQ9, PAIN, GAD7, CSSRS, CADSS, FIQR)


def upgrade():
    op.create_table(
        "instrument_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=24), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user_account.id"],
            name=op.f("fk_instrument_version_created_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instrument_version")),
        sa.UniqueConstraint("code", "version", name=op.f("uq_instrument_version_code")),
    )
    op.create_index(op.f("ix_instrument_version_code"), "instrument_version", ["code"])
    table = sa.table(
        "instrument_version",
        sa.column("code", sa.String),
        sa.column("version", sa.Integer),
        sa.column("name", sa.String),
        sa.column("definition", sa.JSON),
        sa.column("created_at", UTCDateTime()),
    )
    op.bulk_insert(
        table,
        [
            {
                "code": d["code"],
                "version": 1,
                "name": d["name"],
                "definition": d,
                "created_at": LOADED_AT,
            }
            for d in SHIPPED
        ],
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute(
            f"""
            CREATE FUNCTION instrument_version_never_changed() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION '{MESSAGE}';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER instrument_version_no_change BEFORE UPDATE OR DELETE ON "
            "instrument_version FOR EACH ROW EXECUTE FUNCTION instrument_version_never_changed()"
        )
        op.execute(
            "CREATE TRIGGER instrument_version_no_truncate BEFORE TRUNCATE ON instrument_version "
            "FOR EACH STATEMENT EXECUTE FUNCTION instrument_version_never_changed()"
        )
        op.add_column("score", sa.Column("instrument_version_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            op.f("fk_score_instrument_version_id_instrument_version"),
            "score",
            "instrument_version",
            ["instrument_version_id"],
            ["id"],
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER instrument_version_no_{verb.lower()} BEFORE {verb} ON "
                f"instrument_version BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
            )
        op.execute(
            "CREATE TRIGGER instrument_version_no_replace BEFORE INSERT ON instrument_version "
            "WHEN EXISTS (SELECT 1 FROM instrument_version WHERE id = NEW.id "
            "OR (code = NEW.code AND version = NEW.version)) "
            f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
        )
        # A plain ADD COLUMN: a batch rebuild would drop the score table's triggers.
        op.execute(
            "ALTER TABLE score ADD COLUMN instrument_version_id INTEGER CONSTRAINT "
            "fk_score_instrument_version_id_instrument_version REFERENCES instrument_version (id)"
        )
    op.add_column("score", sa.Column("assessment_note", sa.Text(), nullable=True))


def downgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    op.drop_column("score", "assessment_note")
    if postgres:
        op.drop_constraint(
            op.f("fk_score_instrument_version_id_instrument_version"), "score", type_="foreignkey"
        )
    op.drop_column("score", "instrument_version_id")
    if postgres:
        op.execute("DROP TRIGGER instrument_version_no_truncate ON instrument_version")
        op.execute("DROP TRIGGER instrument_version_no_change ON instrument_version")
        op.execute("DROP FUNCTION instrument_version_never_changed()")
    else:
        for name in ("no_update", "no_delete", "no_replace"):
            op.execute(f"DROP TRIGGER instrument_version_{name}")
    op.drop_index(op.f("ix_instrument_version_code"), table_name="instrument_version")
    op.drop_table("instrument_version")
