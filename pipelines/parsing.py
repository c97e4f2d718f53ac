"""Page layout from character boxes: reading order, columns, tables placed in the text.

Lines come from `pipelines.page_lines`, tables from `pipelines.table_layout`, normalisation
from `pipelines.page_text`. Pure logic on plain data; the PDF adapter (services/adapters/pdf.py)
feeds it the characters of a page. Coordinates are top-down: `top < bottom`, in points.

`Page.text` convention: lines in reading order separated by "\\n", paragraphs by a blank
line; a table appears in place as its caption line (if any) followed by one line per row,
cells joined by " | ".
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence

from pipelines.models import Table
from pipelines.page_lines import Char, Line, merge_row, rows_from_runs, runs_from_chars, upright
from pipelines.page_text import clean_line
from pipelines.table_layout import find_caption, table_rows, table_spans

CELL_SEPARATOR = " | "


def find_gutter(rows: Sequence[Line], width: float) -> float | None:
    """x of the white strip between two text columns, or None for a single-column page.

    Counts, per x in the middle of the page, the rows with text on both sides of x and the
    runs crossing x (difference arrays, O(runs + width)); prose must lie on both sides.
    """
    size = int(width) + 2
    spans = [0] * (size + 2)
    crossing = [0] * (size + 2)
    for row in rows:
        lo, hi = _clamp(row[0].x0, size), _clamp(max(r.x1 for r in row), size)
        spans[lo + 1] += 1
        spans[hi] -= 1
        for run in row:
            a, b = _clamp(run.x0, size), _clamp(run.x1, size)
            crossing[a] += 1
            crossing[b + 1] -= 1
    best, best_x, acc_s, acc_c = 0, -1, 0, 0
    for x in range(size):
        acc_s += spans[x]
        acc_c += crossing[x]
        inside = 0.3 * width <= x <= 0.7 * width
        if inside and acc_c <= 0.2 * (acc_s - acc_c) and acc_s - acc_c > best:
            best, best_x = acc_s - acc_c, x
    if best < max(4, 0.3 * len(rows)):
        return None
    left = [r.x1 - r.x0 for row in rows if _splits(row, best_x) for r in row if r.x1 <= best_x]
    right = [r.x1 - r.x0 for row in rows if _splits(row, best_x) for r in row if r.x0 >= best_x]
    if min(statistics.median(left), statistics.median(right)) < 0.2 * width:
        return None  # narrow cells beside the gap: a table, not prose columns
    return float(best_x)


def _clamp(x: float, size: int) -> int:
    return min(max(int(x), 0), size - 1)


def _splits(line: Line, x: float) -> bool:
    return any(f.x1 <= x for f in line) and any(f.x0 >= x for f in line)


def reading_regions(rows: Sequence[Line], width: float) -> list[list[Line]]:
    """Split rows into regions read one after the other (column by column in a band)."""
    gutter = find_gutter(rows, width)
    if gutter is None:
        return [list(rows)] if rows else []
    regions: list[list[Line]] = []
    left: list[Line] = []
    right: list[Line] = []
    spanning: list[Line] = []
    for row in rows:
        if any(f.x0 < gutter < f.x1 for f in row):
            regions.extend(r for r in (left, right) if r)
            left, right = [], []
            spanning.append(row)
            continue
        if spanning:
            regions.append(spanning)
            spanning = []
        if lft := [f for f in row if f.x1 <= gutter]:
            left.append(lft)
        if rgt := [f for f in row if f.x0 >= gutter]:
            right.append(rgt)
    regions.extend(r for r in (spanning, left, right) if r)
    return regions


def _line_text(line: Line) -> str:
    return clean_line(" ".join(f.text for f in line))


def layout_page(chars: Sequence[Char], width: float) -> tuple[str, list[Table]]:
    """Characters of a page -> (text in reading order, tables found on it)."""
    upright_chars, turned = upright(chars)
    if turned:
        width = max(c.x1 for c in upright_chars)
    rows = rows_from_runs(runs_from_chars(upright_chars))
    blocks: list[str] = []
    tables: list[Table] = []
    for raw_region in reading_regions(rows, width):
        region = [merge_row(row) for row in raw_region]
        spacing = _paragraph_gap(region)
        texts = [_line_text(ln) for ln in region]
        out: list[str] = []
        consumed = 0
        spans = table_spans(region)
        for start, end in [*spans, (len(region), len(region))]:
            caption_at = find_caption(texts[consumed:start]) if start < end else None
            stop = consumed + caption_at if caption_at is not None else start
            for k in range(consumed, stop):
                if out and region[k][0].top - region[k - 1][0].bottom > spacing:
                    out.append("")
                out.append(texts[k])
            if start == end:
                break
            caption = texts[stop] if caption_at is not None else None
            cells = [r for r in table_rows(region[start:end]) if any(r)]
            tables.append(Table(caption=caption, rows=cells))
            table_lines = texts[stop:start] + [CELL_SEPARATOR.join(r) for r in cells]
            out.extend(["", *table_lines, ""] if out else [*table_lines, ""])
            consumed = end
        blocks.append("\n".join(out).strip("\n"))
    text = "\n\n".join(b for b in blocks if b)
    return re.sub(r"\n{3,}", "\n\n", text), tables


def _paragraph_gap(region: Sequence[Line]) -> float:
    """Vertical gap above which two lines belong to different paragraphs."""
    height = statistics.median(ln[0].bottom - ln[0].top for ln in region)
    gaps = [b[0].top - a[0].bottom for a, b in zip(region, region[1:], strict=False)]
    usual = statistics.median([g for g in gaps if g > 0] or [0.0])
    return max(usual + 0.5 * height, 0.6 * height)
