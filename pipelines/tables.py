"""Tables as tables when indexed: a unit cut from the middle of a table keeps its header.

Page text holds a table as `cell | cell` rows (`pipelines.parsing`), usually under a
caption line ("(Dollars in millions)", "单位：人民币百万元"). A 128-token unit taken from
row 30 of a statement has lost the header row that says which column is which period,
and the group label ("Revenues:") that says what its rows are. `table_header` finds them
in the text before the unit, so the unit is embedded and scored with them.
"""

from __future__ import annotations

from collections.abc import Sequence

CELL = " | "
MAX_CAPTION = 120
"""A line above a table longer than this is prose, not a caption."""


def is_row(line: str) -> bool:
    return CELL in line


def table_header(before: Sequence[str], text: str) -> str:
    """Caption, header row and group label of the table `text` starts inside, or ""."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    if not is_row(first):
        return ""
    block: list[str] = []
    caption = ""
    for line in reversed(before):
        if not line.strip():
            continue
        if not is_row(line):
            caption = line.strip() if len(line.strip()) <= MAX_CAPTION else ""
            break
        block.append(line)
    if not block:
        return ""
    block.reverse()
    header, label = block[0].strip(), _group_label(block[1:])
    return "\n".join(part for part in (caption, header, label) if part)


def _group_label(rows: Sequence[str]) -> str:
    """The last row before the unit whose cells after the first are empty ("Revenues: | |")."""
    for row in reversed(rows):
        cells = [cell.strip() for cell in row.split("|")]
        if cells[0] and not any(cells[1:]):
            return cells[0]
    return ""
