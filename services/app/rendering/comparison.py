"""A comparison table as files: CSV, XLSX (openpyxl) and JSON.

- CSV: one line per document; per column three fields, `<column>`, `<column> quote`,
  `<column> page` (the quote empty unless verified; an unverified value ends in " (unverified)").
- XLSX: sheet "table" with the values (unverified ones marked " (unverified)" and shaded),
  sheet "evidence" with one line per cell: document, column, value, verified, method,
  page, page_end, quote.
- JSON: the table as the API returns it.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill

from pipelines.comparison_models import Cell, Table

UNVERIFIED = " (unverified)"
_UNVERIFIED_FILL = PatternFill("solid", start_color="FFF2CC", end_color="FFF2CC")
_MAX_CELL = 32_000  # Excel holds at most 32,767 characters a cell
_CONTROL = re.compile(r"[\000-\010\013\014\016-\037]")
_FORMULA_START = ("=", "+", "@")


def _safe(value: str) -> str:
    """Text a spreadsheet shows as text: no control characters, never read as a formula."""
    value = _CONTROL.sub(" ", value)[:_MAX_CELL]
    return "'" + value if value.startswith(_FORMULA_START) else value


def _append(sheet: Any, values: Sequence[object]) -> None:
    sheet.append([_safe(v) if isinstance(v, str) else v for v in values])


def shown_value(cell: Cell) -> str:
    """The value as a table shows it: empty when not found, marked when unverified."""
    if cell.value is None:
        return ""
    return cell.value if cell.verified else cell.value + UNVERIFIED


def to_csv(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    header = ["document_id", "filename"]
    for column in table.columns:
        header += [column, f"{column} quote", f"{column} page"]
    writer.writerow(header)
    for row in table.rows:
        line = [row.document_id, row.filename]
        for column in table.columns:
            cell = row.cells.get(column) or Cell()
            quote = cell.quote if cell.verified and cell.quote else ""
            line += [shown_value(cell), quote, "" if cell.page is None else str(cell.page)]
        writer.writerow([_safe(v) for v in line])
    return out.getvalue()


def to_xlsx(table: Table) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "table"
    _append(sheet, ["filename", "document_id", *table.columns])
    for title in sheet[1]:
        title.font = Font(bold=True)
    for number, row in enumerate(table.rows, 2):
        cells = [row.cells.get(c) or Cell() for c in table.columns]
        _append(sheet, [row.filename, row.document_id, *(shown_value(c) for c in cells)])
        for offset, cell in enumerate(cells, 3):
            if cell.value is not None and not cell.verified:
                sheet.cell(row=number, column=offset).fill = _UNVERIFIED_FILL
    evidence = book.create_sheet("evidence")
    _append(
        evidence,
        ["filename", "document_id", "column", "value", "verified", "method", "page", "page_end"]
        + ["char_start", "char_end", "quote", "rule"],
    )
    for title in evidence[1]:
        title.font = Font(bold=True)
    for row in table.rows:
        for column in table.columns:
            cell = row.cells.get(column) or Cell()
            if cell.value is None:
                continue
            _append(
                evidence,
                [row.filename, row.document_id, column, cell.value, cell.verified, cell.method]
                + [cell.page, cell.page_end, cell.char_start, cell.char_end]
                + [cell.quote or "", cell.rule or ""],
            )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def to_json(table: Table) -> str:
    return table.model_dump_json(indent=2)
