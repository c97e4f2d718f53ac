"""Tables as tables when indexed: a unit cut from the middle of a table keeps its header.

Page text holds a table as `cell | cell` rows (`pipelines.parsing`), usually under a
caption line ("(Dollars in millions)", "单位：人民币百万元"). A 128-token unit taken from
row 30 of a statement has lost the header row that says which column is which period,
and the group label ("Revenues:") that says what its rows are. `table_header` finds them
in the text before the unit, so the unit is embedded and scored with them. `merge_units` and
`grow` join consecutive units into one passage; table pages are in `pipelines.table_pages`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pipelines.models import Chunk

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


def grow(
    unit: Chunk, neighbours: dict[int, Chunk], max_tokens: int, same: Callable[[Chunk], bool]
) -> Chunk:
    """`unit` grown over adjacent `neighbours` for which `same` holds, backwards first,
    within `max_tokens`."""
    first = last = unit
    size = unit.token_count
    for step in (-1, 1):
        edge = unit
        while True:
            nxt = neighbours.get(edge.number + step)
            if nxt is None or not same(nxt) or size + nxt.token_count > max_tokens:
                break
            edge, size = nxt, size + nxt.token_count
            first, last = (nxt, last) if step < 0 else (first, nxt)
    if first is last:
        return unit
    return merge_units([neighbours[n] for n in range(first.number, last.number + 1)])


def merge_units(units: Sequence[Chunk]) -> Chunk:
    """Consecutive units of one document as one chunk (numbered as the first); its text is
    the units' texts joined by as many whitespace characters as lie between them (a line
    break next to a table row or in a longer gap, else a space), so offsets stay exact."""
    text = units[0].text
    end = units[0].char_end
    for unit in units[1:]:
        if unit.char_start >= end:  # a gap of whitespace between units
            gap = unit.char_start - end
            rows = is_row(text.rsplit("\n", 1)[-1]) or is_row(unit.text.split("\n", 1)[0])
            text += ("\n" if gap > 1 or rows else " ") * gap + unit.text
        else:  # overlapping units: keep the new part only
            text += unit.text[end - unit.char_start :]
        end = max(end, unit.char_end)
    return units[0].model_copy(
        update={
            "text": text,
            "char_end": end,
            "page_end": max(u.page_end for u in units),
            "token_count": sum(u.token_count for u in units),
        }
    )
