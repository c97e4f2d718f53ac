"""Tables on a page: spans of aligned multi-cell rows, their cells, their caption line.

Pure logic on the lines of a page region (`pipelines.page_lines`).
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence

from pipelines.page_lines import Fragment, Line
from pipelines.page_text import clean_line

_CAPTION = re.compile(
    r"^\s*(表|图表|附表|Table|TABLE|Exhibit|EXHIBIT)\s*[0-9０-９一二三四五六七八九十\-.]+"
)
_UNIT_LINE = re.compile(
    r"^\s*[（(]?\s*(货币单位|单位|金额单位|Unit|UNIT|in millions|in thousands)", re.I
)
_SENTENCE_END = tuple("。．.；;，,：:")


def _gaps(line: Line) -> list[tuple[float, float]]:
    return [(a.x1, b.x0) for a, b in zip(line, line[1:], strict=False)]


def _aligned(a: Line, b: Line) -> bool:
    """Two multi-cell rows share a column gap (prose with a wide space does not)."""
    return any(min(g[1], h[1]) > max(g[0], h[0]) for g in _gaps(a) for h in _gaps(b))


def table_spans(lines: Sequence[Line]) -> list[tuple[int, int]]:
    """[start, end) ranges of aligned multi-cell rows (single-cell rows allowed inside)."""
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(lines):
        if len(lines[i]) < 2:
            i += 1
            continue
        last, j = i, i + 1
        while j < len(lines):
            nxt = j if len(lines[j]) >= 2 else j + 1
            if nxt >= len(lines) or len(lines[nxt]) < 2 or not _aligned(lines[last], lines[nxt]):
                break
            last, j = nxt, nxt + 1
        multi = [line for line in lines[i:j] if len(line) >= 2]
        if len(multi) >= 3 or (len(multi) == 2 and max(map(len, multi)) >= 3):
            spans.append((i, j))
        i = j
    return spans


def table_rows(lines: Sequence[Line]) -> list[list[str]]:
    """Rows of cells, aligned to column slots found from the most common row shape."""
    counts = [len(line) for line in lines if len(line) >= 2]
    n = statistics.mode(counts)
    shaped = [line for line in lines if len(line) == n]
    slots = [
        (min(line[k].x0 for line in shaped), max(line[k].x1 for line in shaped)) for k in range(n)
    ]
    rows: list[list[str]] = []
    for line in lines:
        cells = [""] * n
        for frag in line:
            k = _slot_of(frag, slots)
            cells[k] = f"{cells[k]} {frag.text}".strip()
        rows.append([clean_line(c) for c in cells])
    return rows


def _slot_of(frag: Fragment, slots: Sequence[tuple[float, float]]) -> int:
    """The column slot a fragment overlaps most (the nearest one when none overlaps)."""
    best, best_key = 0, (-1.0, 0.0)
    center = (frag.x0 + frag.x1) / 2
    for k, (a, b) in enumerate(slots):
        key = (max(0.0, min(frag.x1, b) - max(frag.x0, a)), -abs(center - (a + b) / 2))
        if key > best_key:
            best, best_key = k, key
    return best


def find_caption(before: Sequence[str]) -> int | None:
    """Index into `before` (lines above a table, nearest last) of the table's caption."""
    for k in range(len(before) - 1, max(len(before) - 3, -1), -1):
        if _CAPTION.match(before[k]):
            return k
    k = len(before) - 1
    if k >= 0 and _UNIT_LINE.match(before[k]):
        k -= 1
    if k >= 0 and 0 < len(before[k]) <= 40 and not before[k].endswith(_SENTENCE_END):
        return k
    return None
