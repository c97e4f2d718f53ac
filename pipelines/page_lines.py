"""Characters of a page into lines: runs of glyphs, rows, merged cells, upright text.

Coordinates are top-down: `top < bottom`, in points. Pure logic on plain data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from pipelines.page_text import is_cjk
from pipelines.text_repair import is_rtl


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


def _joiner(left: str, right: str, gap: float, height: float) -> str:
    if not left or not right or left[-1] == " " or right[0] == " ":
        return ""
    if is_rtl(left[-1]) and is_rtl(right[0]):  # letters of connected scripts touch
        return " " if gap > 0.15 * height else ""
    if gap > 0.25 * height and not (is_cjk(left[-1]) and is_cjk(right[0])):
        return " "
    return ""


def runs_from_chars(chars: Sequence[Char], gap_factor: float = 1.2) -> list[Fragment]:
    """Group characters, in content order, into runs on one baseline with no wide gap.

    The hottest loop of parsing (once per word of every page): comparisons instead of
    `max`/`min` calls, and the bidi lookup once a glyph."""
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
        if text:
            rtl = is_rtl(c[0])
            if rtl and ch.x0 == x0 and ch.x1 == x1:
                text.insert(0, c)  # one ligature glyph's letters (logical): keep visual order
                continue
            if rtl:  # right-to-left glyphs: one run each, ordered by x later
                runs.append(Fragment("".join(text), x0, top, x1, bottom))
                text = []
        if text:
            h = ch.bottom - ch.top
            rh = bottom - top
            tallest = h if h > rh else rh
            if tallest < 0.1:
                tallest = 0.1
            same_line = abs((ch.top + ch.bottom) - (top + bottom)) < 0.6 * tallest
            gap = ch.x0 - x1
            if same_line and -0.5 * tallest <= gap <= gap_factor * tallest:
                sep = " " if pending_space else _joiner(text[-1], c, gap, tallest)
                text.append(sep + c)
                if ch.x1 > x1:
                    x1 = ch.x1
                if ch.top < top:
                    top = ch.top
                if ch.bottom > bottom:
                    bottom = ch.bottom
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
