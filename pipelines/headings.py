"""Clause and section headings in plain document text, and the sections they open.

Headings are recognised line by line from their numbering (第X章/节/条, 一、, (一), 1., 1.1,
ARTICLE V, Section 5.2, PART I, Item 7., EXHIBIT A) or, for all-caps lines, their shape.
A numbered line counts only when it reads like a title: short, no sentence punctuation
(or an English run-in title such as "6.9 Indirect Taxes. Except ..."), not the wrapped
continuation of the previous line, not on a table-of-contents page. Each kind has a
fixed rank; a heading closes every open heading of equal or lower rank. A heading equal
to one already open (a running page header such as "第一章 公司简介") changes nothing.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from pipelines.heading_lines import in_caps_block, match_heading, norm_line, title_lines

_TERMINAL = tuple(".。!?;:！？；：)”\"'")
_LEADERS = re.compile(r"\.{4,}|…{2,}|(?:\s\.){3}|·{4,}")
_TOC_TITLE = re.compile(r"^(?:TABLE OF CONTENTS|Table of Contents|CONTENTS|目\s*录)$")
_CONTINUED = re.compile(r"\s*[(（](?:续|cont(?:inued|'d)?\.?)[)）]\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Heading:
    """A heading line: `start`/`end` are its character offsets in the document text."""

    start: int
    end: int
    rank: int
    title: str


@dataclass(frozen=True)
class Section:
    """Text span [start, end) opened by a heading (or the preamble), with its heading path."""

    start: int
    end: int
    path: tuple[str, ...]


def display_width(line: str) -> int:
    """Width of a line with CJK characters (3 bytes in UTF-8) counting double."""
    size = len(line)
    return size + (len(line.encode("utf-8")) - size) // 2


def typical_width(lines: Sequence[str]) -> int:
    """The width of a full line of running text (90th percentile of non-empty lines)."""
    widths = sorted(display_width(line) for line in lines if line.strip())
    return widths[int(len(widths) * 0.9)] if widths else 80


def find_headings(text: str, page_starts: Sequence[int] = (0,)) -> list[Heading]:
    """Headings of `text` in order; `page_starts` are the offsets where pages begin."""
    lines = text.split("\n")
    offsets: list[int] = []
    position = 0
    for line in lines:
        offsets.append(position)
        position += len(line) + 1
    width = typical_width(lines)
    boilerplate = _boilerplate(lines, offsets, page_starts)
    toc_pages = _toc_pages(lines, offsets, page_starts)
    headings: list[Heading] = []
    previous, previous_offset, previous_heading = "", -1, False
    skip_until = -1
    for index, raw in enumerate(lines):
        line = raw.strip()
        if not line:
            continue
        if index <= skip_until:
            previous, previous_offset, previous_heading = line, offsets[index], True
            continue
        page = bisect_right(page_starts, offsets[index]) - 1
        continuation = (
            previous_offset >= page_starts[page]
            and not previous_heading
            and display_width(previous) >= 0.6 * width
            and not previous.endswith(_TERMINAL)
        )
        found = None
        tabular = "|" in line  # a table row ("cell | cell") is never a heading
        if page not in toc_pages and not continuation and not tabular and not _LEADERS.search(line):
            found = match_heading(_CONTINUED.sub("", line), boilerplate)
        if found and found[2] is False and found[1] == line and in_caps_block(lines, index):
            found = None  # one line of an all-caps paragraph (a disclaimer), not a title
        if found and 4 <= found[0] <= 6 and display_width(line) >= 0.85 * width:
            found = None  # a full-width numbered line is a list item that wraps
        if found is not None:
            rank, title, bare = found
            end = offsets[index] + len(raw)
            if bare:  # "ARTICLE 1" alone: its title is on the next line(s)
                extra, used = title_lines(lines, index + 1)
                if extra:
                    title = f"{title} {extra}"
                    end = offsets[index + used] + len(lines[index + used])
                    skip_until = index + used
            start = offsets[index] + len(raw) - len(raw.lstrip())
            headings.append(Heading(start, end, rank, " ".join(title.split())[:160]))
        previous, previous_offset, previous_heading = line, offsets[index], found is not None
    return headings


def sections_of(text: str, headings: Sequence[Heading]) -> list[Section]:
    """Split `text` at headings into sections carrying hierarchical heading paths."""
    sections: list[Section] = []
    stack: list[Heading] = []
    start, path = 0, tuple[str, ...]()
    for heading in headings:
        if any(h.rank == heading.rank and h.title == heading.title for h in stack):
            continue  # a running header repeating an open heading
        if heading.start > start:
            sections.append(Section(start, heading.start, path))
        while stack and stack[-1].rank >= heading.rank:
            stack.pop()
        stack.append(heading)
        start, path = heading.start, tuple(h.title for h in stack)
    if len(text) > start or not sections:
        sections.append(Section(start, len(text), path))
    return sections


def _page_lines(
    lines: Sequence[str], offsets: Sequence[int], page_starts: Sequence[int]
) -> dict[int, list[str]]:
    pages: dict[int, list[str]] = {}
    for line, offset in zip(lines, offsets, strict=True):
        if line.strip():
            pages.setdefault(bisect_right(page_starts, offset) - 1, []).append(line.strip())
    return pages


def _boilerplate(
    lines: Sequence[str], offsets: Sequence[int], page_starts: Sequence[int]
) -> set[str]:
    """Lines repeated at the top or bottom of many pages (running headers, footers)."""
    pages = _page_lines(lines, offsets, page_starts)
    seen: Counter[str] = Counter()
    for page_lines in pages.values():
        seen.update({norm_line(line) for line in page_lines[:3] + page_lines[-3:]})
    threshold = max(3, len(page_starts) // 5)
    return {line for line, n in seen.items() if n >= threshold}


def _toc_pages(
    lines: Sequence[str], offsets: Sequence[int], page_starts: Sequence[int]
) -> set[int]:
    """Pages of a table of contents: titled so, or right after one and full of page numbers."""
    toc: set[int] = set()
    for page, page_lines in sorted(_page_lines(lines, offsets, page_starts).items()):
        numbered = sum(1 for line in page_lines if re.search(r"(?:\s|\.)\d{1,3}$", line))
        if any(_TOC_TITLE.match(line) for line in page_lines[:6]) or (
            page - 1 in toc and numbered >= 0.3 * len(page_lines)
        ):
            toc.add(page)
    return toc
