"""Page layout from character boxes: lines, reading order, columns, tables, normalisation.

Pure logic on plain data; the PDF adapter (services/adapters/pdf.py) feeds it the characters
of a page. Coordinates are top-down: `top < bottom`, in points.

`Page.text` convention: lines in reading order separated by "\\n", paragraphs by a blank
line; a table appears in place as its caption line (if any) followed by one line per row,
cells joined by " | ".
"""

from __future__ import annotations

import re
import statistics
import unicodedata
from collections.abc import Sequence
from typing import NamedTuple

from pipelines.models import Table
from pipelines.text_repair import is_rtl, join_spaced_cjk, logical_order

CELL_SEPARATOR = " | "

# Full-width CJK punctuation keeps its form (NFKC would turn "，" into ","); full-width
# letters and digits, ligatures, ideographic spaces are folded by NFKC.
_KEEP_PUNCT = "！（），：；？［］｛｝～｟｠｡｢｣､･"
_NFKC_RUNS = re.compile(f"[^{re.escape(_KEEP_PUNCT)}]+")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\ufeff\ufffd\ufffe\uffff]")
_SPACES = re.compile(r"[ \t]+")
_CAPTION = re.compile(
    r"^\s*(表|图表|附表|Table|TABLE|Exhibit|EXHIBIT)\s*[0-9０-９一二三四五六七八九十\-.]+"
)
_UNIT_LINE = re.compile(
    r"^\s*[（(]?\s*(货币单位|单位|金额单位|Unit|UNIT|in millions|in thousands)", re.I
)
_SENTENCE_END = tuple("。．.；;，,：:")


class Char(NamedTuple):
    """A glyph or a word with its box (top-down coordinates); " " and "\\n" separate words."""

    text: str
    x0: float
    top: float
    x1: float
    bottom: float


class Fragment(NamedTuple):
    """A horizontal run of text on one line, separated from neighbours by a wide gap."""

    text: str
    x0: float
    top: float
    x1: float
    bottom: float


Line = list[Fragment]


def normalize_text(text: str) -> str:
    """NFKC (keeping full-width CJK punctuation), drop control characters, tidy spaces."""
    text = text.replace("\x02", "-").replace("\r\n", "\n").replace("\r", "\n")
    text = _NFKC_RUNS.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)
    text = _CONTROL.sub("", text)
    return "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n"))


def is_cjk(ch: str) -> bool:
    """True for CJK ideographs, kana, hangul and full-width forms."""
    o = ord(ch)
    return (
        0x2E80 <= o <= 0x9FFF
        or 0xAC00 <= o <= 0xD7AF
        or 0xF900 <= o <= 0xFAFF
        or (0xFF00 <= o <= 0xFFEF or 0x20000 <= o <= 0x2FFFF)
    )


def _joiner(left: str, right: str, gap: float, height: float) -> str:
    if not left or not right or left[-1] == " " or right[0] == " ":
        return ""
    if is_rtl(left[-1]) and is_rtl(right[0]):  # letters of connected scripts touch
        return " " if gap > 0.15 * height else ""
    if gap > 0.25 * height and not (is_cjk(left[-1]) and is_cjk(right[0])):
        return " "
    return ""


def runs_from_chars(chars: Sequence[Char], gap_factor: float = 1.2) -> list[Fragment]:
    """Group characters, in content order, into runs on one baseline with no wide gap."""
    runs: list[Fragment] = []
    text: list[str] = []
    x0 = top = x1 = bottom = 0.0
    pending_space = False
    for ch in chars:
        c = ch.text
        if c in "\r\n":
            pending_space = False
            if text:
                runs.append(Fragment("".join(text), x0, top, x1, bottom))
                text = []
            continue
        if c.isspace():
            pending_space = bool(text)
            continue
        h = max(ch.bottom - ch.top, 0.1)
        if text and is_rtl(c[0]) and (ch.x0, ch.x1) == (x0, x1):
            text.insert(0, c)  # one ligature glyph's letters (logical): keep visual order
            continue
        if text and is_rtl(c[0]):  # right-to-left glyphs: one run each, ordered by x later
            runs.append(Fragment("".join(text), x0, top, x1, bottom))
            text = []
        if text:
            rh = bottom - top
            same_line = abs((ch.top + ch.bottom) - (top + bottom)) < 0.6 * max(h, rh)
            gap = ch.x0 - x1
            if same_line and -0.5 * max(h, rh) <= gap <= gap_factor * max(h, rh):
                sep = " " if pending_space else _joiner(text[-1], c, gap, max(h, rh))
                text.append(sep + c)
                x1 = max(x1, ch.x1)
                top, bottom = min(top, ch.top), max(bottom, ch.bottom)
                pending_space = False
                continue
            runs.append(Fragment("".join(text), x0, top, x1, bottom))
        text = [c]
        x0, top, x1, bottom = ch.x0, ch.top, ch.x1, ch.bottom
        pending_space = False
    if text:
        runs.append(Fragment("".join(text), x0, top, x1, bottom))
    return runs


def rows_from_runs(runs: Sequence[Fragment]) -> list[Line]:
    """Cluster runs into rows (same vertical band), each sorted left to right."""
    rows: list[Line] = []
    centers: list[float] = []
    heights: list[float] = []
    for run in sorted(runs, key=lambda r: (r.top + r.bottom, r.x0)):
        c, h = (run.top + run.bottom) / 2, run.bottom - run.top
        if rows and abs(c - centers[-1]) < 0.5 * max(h, heights[-1]):
            rows[-1].append(run)
            continue
        rows.append([run])
        centers.append(c)
        heights.append(h)
    for row in rows:
        row.sort(key=lambda r: r.x0)
    return rows


def merge_row(row: Line, gap_factor: float = 0.8) -> Line:
    """Merge runs of a row separated by less than `gap_factor` line heights."""
    merged = [row[0]]
    for run in row[1:]:
        last = merged[-1]
        h = max(last.bottom - last.top, run.bottom - run.top)
        gap = run.x0 - last.x1
        if gap <= gap_factor * h:
            text = last.text + _joiner(last.text, run.text, gap, h) + run.text
            merged[-1] = Fragment(
                text,
                last.x0,
                min(last.top, run.top),
                max(last.x1, run.x1),
                max(last.bottom, run.bottom),
            )
        else:
            merged.append(run)
    return merged


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


def _gaps(line: Line) -> list[tuple[float, float]]:
    return [(a.x1, b.x0) for a, b in zip(line, line[1:], strict=False)]


def _aligned(a: Line, b: Line) -> bool:
    """Two multi-cell rows share a column gap (prose with a wide space does not)."""
    return any(min(g[1], h[1]) > max(g[0], h[0]) for g in _gaps(a) for h in _gaps(b))


def _table_spans(lines: Sequence[Line]) -> list[tuple[int, int]]:
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


def clean_line(visual: str) -> str:
    """A line as laid out on the page -> logical order, normalised, CJK word spacing fixed."""
    return join_spaced_cjk(normalize_text(logical_order(visual)))


def _line_text(line: Line) -> str:
    return clean_line(" ".join(f.text for f in line))


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


def upright(chars: Sequence[Char]) -> tuple[list[Char], bool]:
    """Rotate boxes so the dominant writing direction runs left to right, shifted to x, y >= 0.

    Text drawn sideways (rotated pages whose content is rotated too) otherwise stacks its
    characters vertically and reads as one character a line.
    """
    votes = {"right": 0, "left": 0, "down": 0, "up": 0}
    prev: Char | None = None
    for c in chars[:400]:
        if c.text in ("\n", "\r"):
            prev = None
            continue
        if c.text.isspace() or is_rtl(c.text[0]):  # right-to-left scripts run left by design
            prev = None if not c.text.isspace() else prev
            continue
        if prev is not None:
            cx, cy = (c.x0 + c.x1) / 2, (c.top + c.bottom) / 2
            px, py = (prev.x0 + prev.x1) / 2, (prev.top + prev.bottom) / 2
            if abs(cy - py) < 0.5 * (prev.bottom - prev.top):
                votes["right" if cx >= px else "left"] += 1
            elif abs(cx - px) < 0.5 * (prev.x1 - prev.x0):
                votes["down" if cy > py else "up"] += 1
        prev = c
    way = max(votes, key=lambda k: votes[k])
    if way == "right" or votes[way] <= 2 * votes["right"]:
        return list(chars), False
    if way == "down":  # rotated clockwise: lines run right to left
        turned = [Char(c.text, c.top, -c.x1, c.bottom, -c.x0) for c in chars]
    elif way == "up":  # rotated anticlockwise: lines run left to right
        turned = [Char(c.text, -c.bottom, c.x0, -c.top, c.x1) for c in chars]
    else:
        turned = [Char(c.text, -c.x1, -c.bottom, -c.x0, -c.top) for c in chars]
    dx = min(c.x0 for c in turned)
    dy = min(c.top for c in turned)
    return [Char(c.text, c.x0 - dx, c.top - dy, c.x1 - dx, c.bottom - dy) for c in turned], True


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
        spans = _table_spans(region)
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


def needs_ocr(text: str, image_area_ratio: float) -> bool:
    """A page needs OCR when it has (almost) no text layer but images cover part of it."""
    visible = len(re.sub(r"\s", "", text))
    if visible < 10:
        return image_area_ratio > 0.05
    return visible < 100 and image_area_ratio > 0.5


def clean_ocr_text(text: str) -> str:
    """Tesseract output -> page text: no spaces between CJK characters, tidy paragraphs."""
    text = normalize_text(text)
    text = re.sub(r"(?<=[\u2e80-\u9fff\uff00-\uffef]) (?=[\u2e80-\u9fff\uff00-\uffef])", "", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
