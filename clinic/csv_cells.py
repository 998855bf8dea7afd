"""CSV for a spreadsheet, every cell escaped against formula injection (OWASP "CSV injection"):
free text typed in the app must never run as a formula when someone opens the file. Shared by
the patient export (clinic/review/csv_export.py) and the register's reports."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

# Spreadsheets treat a cell starting with any of these as a formula (tab and CR too, since
# some strip them before deciding).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"


def escape_cell(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def write_rows(rows: Iterable[Sequence[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([escape_cell(cell) for cell in row])
    return buffer.getvalue()


def csv_bytes(rows: Iterable[Sequence[str]]) -> bytes:
    """UTF-8 with a BOM: without it Excel reads the file as the local code page."""
    return (BOM + write_rows(rows)).encode("utf-8")
