"""Finding a quote of our page text among a PDF page's glyphs, and its rectangles.

Our page text is not the PDF's own: it is reordered, NFKC'd, with spaces and hyphens
tidied. Both sides are compared on a folded form (NFKC, lower case, letters and digits
only) that keeps, for each folded character, the index of the glyph it came from. A quote
not found whole is looked for line by line and cell by cell (reading order differs from
the PDF's content order there). Rectangles are the glyphs' boxes merged per line, in page
coordinates with a top-left origin. Pure logic on plain data.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

Box = tuple[float, float, float, float]  # x0, y0 (top), x1, y1 (bottom), top-left origin
_PIECES = re.compile(r"\n| \| ")
_MIN_PIECE = 3  # folded characters: shorter pieces are too ambiguous to place alone


@dataclass(frozen=True)
class PageGlyphs:
    """A page's characters in the PDF's order with their boxes (one per character)."""

    width: float
    height: float
    text: str
    boxes: Sequence[Box]
    ocr: bool = False


def fold(text: str) -> tuple[str, list[int]]:
    """Letters and digits of `text` after NFKC and lower-casing, with each one's index."""
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        if ch.isascii():
            if ch.isalnum():
                out.append(ch.lower())
                where.append(i)
            continue
        for part in unicodedata.normalize("NFKC", ch).lower():
            if part.isalnum():
                out.append(part)
                where.append(i)
    return "".join(out), where


def _nearest(haystack: str, needle: str, hint: int) -> int:
    """Start of the occurrence of `needle` nearest `hint`, or -1."""
    best = -1
    at = haystack.find(needle)
    while at >= 0:
        if best < 0 or abs(at - hint) < abs(best - hint):
            best = at
        elif at > hint:
            break
        at = haystack.find(needle, at + 1)
    return best


def locate(glyphs: PageGlyphs, quote: str, position: float = 0.0) -> list[int] | None:
    """Glyph indices of `quote` on the page, or None when it cannot be placed.

    `position`: where the quote starts in our page text, as a share of its length (picks
    among repeated occurrences). Whole first; else line by line and cell by cell, and a
    line not found whole by its longest runs of words found (a footnote mark glued to a
    word, a cell wrapped differently); placed when at least `PLACED_SHARE` of the quote's
    letters and digits are."""
    folded, where = fold(glyphs.text)
    needle, _ = fold(quote)
    if not needle:
        return None
    at = _nearest(folded, needle, int(position * len(folded)))
    if at >= 0:
        return where[at : at + len(needle)]
    spans: list[tuple[int, int]] = []
    cursor = int(position * len(folded))
    for piece in _PIECES.split(quote):
        small, _ = fold(piece)
        if len(small) < _MIN_PIECE and len(small) < len(needle):
            continue  # a stray cell or number: placed with its neighbours or not at all
        at = _nearest(folded, small, cursor)
        found = [(at, len(small))] if at >= 0 else _by_words(folded, piece.split(), cursor)
        spans += found
        cursor = max((a + n for a, n in found), default=cursor)
    if sum(n for _, n in spans) < PLACED_SHARE * len(needle):
        return None
    return sorted({where[i] for a, n in spans for i in range(a, a + n)})


PLACED_SHARE = 0.85
_MIN_RUN = 6  # folded characters of a run of words placed on its own


def _by_words(folded: str, words: list[str], cursor: int) -> list[tuple[int, int]]:
    """(start, length) in `folded` of the longest runs of `words` found, recursively."""
    if not words or len(words) > 80:
        return []
    for size in range(len(words), 0, -1):
        for i in range(len(words) - size + 1):
            run, _ = fold(" ".join(words[i : i + size]))
            if len(run) < _MIN_RUN:
                continue
            at = _nearest(folded, run, cursor)
            if at >= 0:
                return (
                    _by_words(folded, words[:i], at)
                    + [(at, len(run))]
                    + _by_words(folded, words[i + size :], at + len(run))
                )
    return []


def line_rects(glyphs: PageGlyphs, indices: Sequence[int]) -> list[Box]:
    """Boxes of the glyphs `indices` merged per line (a run of glyphs on one line, across
    or, on a turned page, down)."""
    rects: list[list[float]] = []
    last: Box = (0.0, 0.0, 0.0, 0.0)
    for i in indices:
        x0, y0, x1, y1 = box = glyphs.boxes[i]
        if x1 <= x0 or y1 <= y0 or glyphs.text[i].isspace():
            continue
        if rects and (_across(rects[-1], box) or _down(rects[-1], last, box)):
            r = rects[-1]
            r[0], r[1] = min(r[0], x0), min(r[1], y0)
            r[2], r[3] = max(r[2], x1), max(r[3], y1)
        else:
            rects.append([x0, y0, x1, y1])
        last = box
    return [(round(a, 2), round(b, 2), round(c, 2), round(d, 2)) for a, b, c, d in rects]


def _across(r: list[float], box: Box) -> bool:
    """`box` continues the left-to-right line `r`."""
    x0, y0, x1, y1 = box
    middle = (y0 + y1) / 2
    height = max(r[3] - r[1], y1 - y0)
    same_line = r[1] <= middle <= r[3] or abs((r[1] + r[3]) / 2 - middle) < 0.3 * height
    if r[3] - r[1] > max(2 * (r[2] - r[0]), 1.5 * (y1 - y0)):
        return False  # a column of glyphs (not one tall glyph): continued downwards only
    return same_line and x0 >= r[0] - 0.5 * height and x0 - r[2] < 3 * height


def _down(r: list[float], last: Box, box: Box) -> bool:
    """`box` continues a top-to-bottom run (text turned a quarter) ending with `last`."""
    width = min(last[2] - last[0], box[2] - box[0])
    overlap = min(last[2], box[2]) - max(last[0], box[0])
    if r[2] - r[0] > 1.5 * (last[2] - last[0]) or overlap < 0.8 * width:
        return False
    return -0.5 * width <= box[1] - last[3] < 1.5 * width


def highlight(glyphs: PageGlyphs, quote: str, position: float = 0.0) -> list[Box] | None:
    """Rectangles of `quote` on the page (None when it cannot be placed)."""
    indices = locate(glyphs, quote, position)
    if indices is None:
        return None
    rects = line_rects(glyphs, indices)
    return rects or None
