"""Abnormal vitals are flagged in the right direction, in the right field, on the flowsheet and on
the patient's history, against the default thresholds of REFERENCE.md.

The expectations are written out by hand from REFERENCE.md ("Vital signs", "Scales"), never asked
of `clinic.sessions.vitals`: a test that takes the production rule as its oracle agrees with it
however wrong it is (a heart rate over 110 flagged "low" passed the suite that way). Each value
is charted alone in its entry, and each page is parsed so that the flag is read in the cell (or
the part of the BP cell) of its own field: an arrow anywhere else in the row proves nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import pytest
from flask.testing import FlaskClient

from clinic.auth.models import Role
from tests.factories import make_patient, open_session_for, record_monitoring

START = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)

# field -> [(value, as the flowsheet shows it, flag expected)], by REFERENCE.md's defaults:
# systolic < 90 or >= 160; diastolic < 50 or >= 100; HR < 50 or > 110; SpO2 < 94; RR < 10 or > 24;
# temperature < 35.5 or >= 38.0; MOAA/S 2 or below is an adverse finding; pain is never flagged.
# A value on a strict threshold ("< 90", "> 110") is not past it and shows no flag; a value on
# an inclusive one (">= 160") is.
FLOWSHEET_CASES: dict[str, list[tuple[Any, str, str | None]]] = {
    "systolic_bp": [(89, "89", "low"), (90, "90", None), (159, "159", None), (160, "160", "high")],
    "diastolic_bp": [(49, "49", "low"), (50, "50", None), (99, "99", None), (100, "100", "high")],
    "heart_rate": [(49, "49", "low"), (50, "50", None), (110, "110", None), (111, "111", "high")],
    "spo2": [(93, "93%", "low"), (94, "94%", None), (100, "100%", None)],
    "respiratory_rate": [(9, "9", "low"), (10, "10", None), (24, "24", None), (25, "25", "high")],
    "temperature_c": [
        (Decimal("35.4"), "35.4", "low"),
        (Decimal("35.5"), "35.5", None),
        (Decimal("37.9"), "37.9", None),
        # Written without its trailing zero, as every clinical decimal on the chart (ISMP).
        (Decimal("38.0"), "38", "high"),
    ],
    "sedation_moaas": [(0, "0", "low"), (2, "2", "low"), (3, "3", None), (5, "5", None)],
    "pain_nrs": [(0, "0", None), (10, "10", None)],
}
# The flowsheet column of each field (by its header), and which part of "systolic/diastolic".
COLUMN = {
    "systolic_bp": ("BP", 0),
    "diastolic_bp": ("BP", 1),
    "heart_rate": ("HR", None),
    "spo2": ("SpO₂", None),
    "respiratory_rate": ("RR", None),
    "sedation_moaas": ("MOAA/S", None),
    "pain_nrs": ("Pain", None),
    "temperature_c": ("Temp", None),
}
ARROW = {"high": "↑", "low": "↓"}


@dataclass
class Cell:
    attrs: dict[str, str]
    text: str = ""
    # Top-level <span>s of the cell: (attributes, text including nested spans).
    spans: list[tuple[dict[str, str], str]] = field(default_factory=list)


@dataclass
class Row:
    attrs: dict[str, str]
    cells: list[Cell] = field(default_factory=list)


class TableReader(HTMLParser):
    """The header cells and the body rows of the first table with the given data-testid."""

    def __init__(self, testid: str) -> None:
        super().__init__(convert_charrefs=True)
        self.testid = testid
        self.depth = 0  # inside the wanted table when > 0
        self.headers: list[str] = []
        self.rows: list[Row] = []
        self._header: list[str] | None = None
        self._cell: Cell | None = None
        self._spans: list[tuple[dict[str, str], list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "table":
            if self.depth or values.get("data-testid") == self.testid:
                self.depth += 1
            return
        if not self.depth:
            return
        if tag == "th":
            self._header = []
        elif tag == "tr" and ("data-kind" in values or "data-session-id" in values):
            self.rows.append(Row(values))
        elif tag == "td" and self.rows:
            self._cell = Cell(values)
        elif tag == "span" and self._cell is not None:
            self._spans.append((values, []))

    def handle_endtag(self, tag: str) -> None:
        if not self.depth:
            return
        if tag == "table":
            self.depth -= 1
        elif tag == "th" and self._header is not None:
            self.headers.append(" ".join("".join(self._header).split()))
            self._header = None
        elif tag == "td" and self._cell is not None:
            self._cell.text = " ".join(self._cell.text.split())
            self.rows[-1].cells.append(self._cell)
            self._cell = None
        elif tag == "span" and self._spans:
            attrs, parts = self._spans.pop()
            if not self._spans and self._cell is not None:
                self._cell.spans.append((attrs, " ".join("".join(parts).split())))

    def handle_data(self, data: str) -> None:
        if self._header is not None:
            self._header.append(data)
        if self._cell is not None:
            self._cell.text += data
            for _, parts in self._spans:
                parts.append(data)


def read_table(html: str, testid: str) -> TableReader:
    reader = TableReader(testid)
    reader.feed(html)
    assert reader.headers or reader.rows, f"no table {testid!r} on the page"
    return reader


def direction_shown(text: str) -> str | None:
    """'high', 'low' or None as a reader (and a screen reader) of the cell sees it."""
    up, down = "↑" in text, "↓" in text
    assert not (up and down), text
    if up:
        assert "(high, abnormal)" in text and "low" not in text, text
        return "high"
    if down:
        assert "(low, abnormal)" in text and "high" not in text, text
        return "low"
    assert "abnormal" not in text, text
    return None


@pytest.fixture
def team(make_user: Any) -> tuple[Any, Any]:
    return make_user(Role.NURSE), make_user(Role.CLINICIAN)


# --- the flowsheet --------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FLOWSHEET_CASES))
def test_flowsheet_flags_each_value_in_its_own_cell_in_the_right_direction(
    client: FlaskClient, login_as: Any, team: tuple[Any, Any], name: str
) -> None:
    nurse, clinician = team
    login_as(Role.NURSE)
    infusion_session = open_session_for(make_patient(), nurse, clinician, started_at=START)
    cases = FLOWSHEET_CASES[name]
    entry_ids = {
        str(
            record_monitoring(
                infusion_session, nurse, START + timedelta(minutes=5 * n), **{name: value}
            ).id
        ): (shown, expected)
        for n, (value, shown, expected) in enumerate(cases)
    }

    response = client.get(f"/sessions/{infusion_session.id}")

    assert response.status_code == 200
    table = read_table(response.get_data(as_text=True), "flowsheet")
    header, part = COLUMN[name]
    column = table.headers.index(header)
    vitals_columns = {table.headers.index(h) for h, _ in COLUMN.values()}
    rows = [row for row in table.rows if row.attrs.get("data-kind") == "monitoring"]
    assert sorted(row.attrs["data-entry-id"] for row in rows) == sorted(entry_ids)
    for row in rows:
        shown, expected = entry_ids[row.attrs["data-entry-id"]]
        cell = row.cells[column]
        text = cell.text if part is None else cell.text.split("/")[part]
        if part is not None:  # the other half of "systolic/diastolic" was not charted
            assert cell.text.split("/")[1 - part] == "\u2013", (name, shown, cell.text)  # en dash
        assert direction_shown(text) == expected, (name, shown, cell.text)
        if expected is None:
            assert text == shown, (name, cell.text)
        flagged = [attrs.get("data-flag") for attrs, _ in cell.spans if "data-flag" in attrs]
        assert flagged == ([name] if expected else []), (name, shown, cell.text)
        if expected:
            [(_, span_text)] = [(a, t) for a, t in cell.spans if a.get("data-flag") == name]
            assert span_text == f"{shown} {ARROW[expected]} ({expected}, abnormal)"
        # The other vitals of the entry are empty: nothing flagged, no arrow, anywhere else.
        for index in vitals_columns - {column}:
            other = row.cells[index]
            assert not other.spans and not {"↑", "↓"} & set(other.text), (name, other.text)


# --- the patient's history ------------------------------------------------------------------

# field -> (values past a threshold, {(label, direction): (value, unit)} shown, adverse findings,
#           values on the thresholds, not past them). The history shows, per session, the most
# extreme flagged value of each vital in each direction; MOAA/S and a low SpO2 are adverse
# findings in words.
HISTORY_CASES: dict[
    str, tuple[list[Any], dict[tuple[str, str], tuple[str, str]], list[str], list[Any]]
] = {
    "systolic_bp": (
        [89, 160],
        {("SBP", "low"): ("89", "mmHg"), ("SBP", "high"): ("160", "mmHg")},
        [],
        [90, 159],
    ),
    "diastolic_bp": (
        [49, 100],
        {("DBP", "low"): ("49", "mmHg"), ("DBP", "high"): ("100", "mmHg")},
        [],
        [50, 99],
    ),
    "heart_rate": (
        [49, 111],
        {("HR", "low"): ("49", "/min"), ("HR", "high"): ("111", "/min")},
        [],
        [50, 110],
    ),
    "spo2": ([93], {("SpO2", "low"): ("93", "%")}, ["SpO2 93%"], [94, 100]),
    "respiratory_rate": (
        [9, 25],
        {("RR", "low"): ("9", "/min"), ("RR", "high"): ("25", "/min")},
        [],
        [10, 24],
    ),
    "temperature_c": (
        [Decimal("35.4"), Decimal("38.0")],
        {("Temp", "low"): ("35.4", "°C"), ("Temp", "high"): ("38.0", "°C")},
        [],
        [Decimal("35.5"), Decimal("37.9")],
    ),
    "sedation_moaas": ([2], {}, ["MOAA/S 2"], [3, 5]),
}


def history_flags(cell: Cell) -> dict[tuple[str, str], tuple[Decimal, str]]:
    """{(label, direction): (value, unit)} from the flags cell, one span per flag."""
    flags: dict[tuple[str, str], tuple[Decimal, str]] = {}
    for attrs, text in cell.spans:
        if "flag-abnormal" not in attrs.get("class", "").split():
            assert text == "None", text  # the cell of a session without a flag
            continue
        label, *value_and_unit, direction = text.split()
        value, unit = (
            (value_and_unit[0][:-1], "%") if value_and_unit[0].endswith("%") else value_and_unit
        )
        assert (label, direction) not in flags, text
        # Compared as numbers: whether 38.0 is written "38.0" or "38" is not the point here.
        flags[(label, direction)] = (Decimal(value), unit)
    return flags


@pytest.mark.parametrize("name", sorted(HISTORY_CASES))
def test_history_shows_each_flag_with_its_own_field_and_direction(
    client: FlaskClient, login_as: Any, team: tuple[Any, Any], name: str
) -> None:
    nurse, clinician = team
    login_as(Role.NURSE)
    past, expected_flags, expected_adverse, on_threshold = HISTORY_CASES[name]
    patient = make_patient()
    flagged = open_session_for(patient, nurse, clinician, started_at=START)
    quiet = open_session_for(patient, nurse, clinician, started_at=START + timedelta(days=7))
    for infusion_session, values in ((flagged, past), (quiet, on_threshold)):
        for n, value in enumerate(values):
            at = infusion_session.started_at + timedelta(minutes=10 * n)
            record_monitoring(infusion_session, nurse, at, **{name: value})

    response = client.get(f"/patients/{patient.id}")

    assert response.status_code == 200
    table = read_table(response.get_data(as_text=True), "sessions")
    rows = {row.attrs["data-session-id"]: row for row in table.rows}
    assert sorted(rows) == sorted([str(flagged.id), str(quiet.id)])
    for session_id, flags, adverse in (
        (flagged.id, expected_flags, expected_adverse),
        (quiet.id, {}, []),
    ):
        cells = {cell.attrs.get("data-testid"): cell for cell in rows[str(session_id)].cells}
        expected = {key: (Decimal(value), unit) for key, (value, unit) in flags.items()}
        assert history_flags(cells["flags"]) == expected, (name, session_id, cells["flags"].text)
        if not flags:
            assert cells["flags"].text == "None"
        assert [text for _, text in cells["adverse"].spans] == (adverse or ["None"]), (
            name,
            session_id,
        )
