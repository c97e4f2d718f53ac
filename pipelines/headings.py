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

_CN = "[一二三四五六七八九十百零〇两\\d]+"
_WORDS = (
    "(?:ONE|TWO|THREE|FOUR|FIVE|SIX|SEVEN|EIGHT|NINE|TEN|ELEVEN|TWELVE|THIRTEEN|FOURTEEN"
    "|FIFTEEN|SIXTEEN|SEVENTEEN|EIGHTEEN|NINETEEN|TWENTY(?:-[A-Z]+)?)"
)
_STRONG: tuple[tuple[int, re.Pattern[str]], ...] = (
    (0, re.compile(rf"^(?:第{_CN}[编部](?:分)?|PART\s+(?:[IVX]+|\d+)\b|Part\s+(?:[IVX]+|\d+)\b)")),
    (1, re.compile(rf"^第{_CN}章(?![的中之所])")),
    (1, re.compile(rf"^(?:ARTICLE|Article)\s+(?:[IVXLC]+|\d{{1,2}}|{_WORDS})\b\.?(?!\d)", re.I)),
    (
        1,
        re.compile(
            r"^(?:EXHIBIT|Exhibit|SCHEDULE|Schedule|ANNEX|Annex|APPENDIX|Appendix)"
            r"\s+[A-Z0-9][\w.\-]*"
        ),
    ),
    (1, re.compile(r"^(?:ITEM|Item)\s+\d{1,2}[A-C]?\.")),
    (2, re.compile(rf"^第{_CN}节(?![的中之所])")),
    (2, re.compile(rf"^(?:SECTION|Section)\s+(?:\d{{1,2}}(?:\.\d{{1,3}})*|{_WORDS})\.?(?=\s|$)")),
    (3, re.compile(rf"^第{_CN}条(?![的中之所规])")),
)
_WEAK: tuple[tuple[int, re.Pattern[str]], ...] = (
    (4, re.compile(r"^[一二三四五六七八九十]{1,3}、")),
    (5, re.compile(r"^[(（][一二三四五六七八九十]{1,3}[)）]")),
    (6, re.compile(r"^\d{1,2}(?:[.、]|\.(?=\s))(?![\d.])")),
    (7, re.compile(r"^\d{1,2}\.\d{1,3}\.?(?=\s|[^\d\s.%,)])")),
    (8, re.compile(r"^\d{1,2}\.\d{1,3}\.\d{1,3}\.?(?=\s|[^\d\s.%,)])")),
    (9, re.compile(r"^\d{1,2}\.\d{1,3}\.\d{1,3}\.\d{1,3}\.?(?=\s|[^\d\s.%,)])")),
    (10, re.compile(r"^[(（]\d{1,2}[)）](?=\s*[\u3400-\u9fff])")),
)
_CAPS_RANK = 6  # as "1. TITLE": RECITALS, WITNESSETH, TERMS AND CONDITIONS
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_TERMINAL = tuple(".。!?;:！？；：)”\"'")
_LEADERS = re.compile(r"\.{4,}|…{2,}|(?:\s\.){3}|·{4,}")
_TOC_TITLE = re.compile(r"^(?:TABLE OF CONTENTS|Table of Contents|CONTENTS|目\s*录)$")
_CJK_BAD = re.compile(r"[,;:。!?，；：！？]")
_CONTINUED = re.compile(r"\s*[(（](?:续|cont(?:inued|'d)?\.?)[)）]\s*$", re.IGNORECASE)
_NUMERIC = re.compile(r"^[(\-]?[\d,.]+%?\)?$|^-$")
_COMPANY = re.compile(r"\b(?:INC|LLC|LTD|CORP|CORPORATION|COMPANY|L\.?P|N\.?A|PLC|LIMITED)\.?$")
_SMALL_WORDS = {
    "a",
    "an",
    "and",
    "as",
    "at",
    "by",
    "for",
    "in",
    "of",
    "on",
    "or",
    "the",
    "to",
    "with",
    "from",
    "into",
    "upon",
    "under",
    "its",
    "vs",
    "per",
    "be",
    "not",
}


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
            found = _match(_CONTINUED.sub("", line), boilerplate)
        if found and found[2] is False and found[1] == line and _in_caps_block(lines, index):
            found = None  # one line of an all-caps paragraph (a disclaimer), not a title
        if found and 4 <= found[0] <= 6 and display_width(line) >= 0.85 * width:
            found = None  # a full-width numbered line is a list item that wraps
        if found is not None:
            rank, title, bare = found
            end = offsets[index] + len(raw)
            if bare:  # "ARTICLE 1" alone: its title is on the next line(s)
                extra, used = _title_lines(lines, index + 1)
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


def _match(line: str, boilerplate: set[str]) -> tuple[int, str, bool] | None:
    for rank, pattern in _STRONG:
        m = pattern.match(line)
        if m:
            rest = line[m.end() :].strip(" .:-–—\t")
            if not rest:
                return rank, m.group(0).rstrip("."), True
            if rank == 3:  # 第X条: the clause text may follow on the same line
                head = re.split(r"[,;:。!?]", rest, maxsplit=1)[0]
                return rank, m.group(0) + (" " + head if len(head) <= 20 else ""), False
            title = _title(rest)
            if title is None or _norm(line) in boilerplate:
                return None
            return rank, f"{m.group(0).rstrip('.')} {title}", False
    for rank, pattern in _WEAK:
        m = pattern.match(line)
        if m:
            rest = line[m.end() :].strip(" \t")
            title = _title(rest) if rest else None
            return None if title is None else (rank, f"{m.group(0).strip()} {title}", False)
    if _is_caps_heading(line) and _norm(line) not in boilerplate:
        return _CAPS_RANK, line, False
    return None


def _title(rest: str) -> str | None:
    """The title in the text after a heading number, or None if it is running text."""
    if re.search(r"\s\d{1,3}$", rest):  # a table-of-contents line ending in a page number
        return None
    if sum(1 for word in rest.split() if _NUMERIC.match(word)) >= 2:
        return None  # a table row: "其他综合收益 47 - - (374)"
    if _CJK.search(rest):
        ok = (
            len(rest) <= 40
            and not _CJK_BAD.search(rest)
            and not rest.endswith(":")
            and sum(c.isdigit() for c in rest) <= len(rest) // 2
        )
        return rest if ok else None
    head = rest.split(". ", 1)[0].rstrip(".")  # run-in title: "Indirect Taxes. Except ..."
    return head if _title_case(head) else None


def _title_case(text: str) -> bool:
    words = [w for w in re.split(r"[\s/]+", text) if w]
    if not words or len(words) > 12 or len(text) > 100 or text.endswith((",", ";", ":")):
        return False
    if not words[0][:1].isupper() and words[0][:1] not in '“"([':
        return False
    counted = [w for w in words if w.lower().strip("(),") not in _SMALL_WORDS]
    capitals = sum(1 for w in counted if w.lstrip('“"([')[:1].isupper() or w[:1].isdigit())
    return bool(counted) and capitals >= 0.8 * len(counted)


def _is_caps_heading(line: str) -> bool:
    if len(line) > 60 or len(line.split()) > 8 or line.endswith((",", ";")):
        return False
    if not re.fullmatch(r"[A-Z][A-Z0-9 &,'’\-/().:]*", line) or _COMPANY.search(line):
        return False
    return any(len(w) >= 4 and w.isalpha() for w in re.split(r"[^A-Za-z]+", line))


def _in_caps_block(lines: Sequence[str], index: int) -> bool:
    for step in (-1, 1):
        other = index + step
        while 0 <= other < len(lines) and not lines[other].strip():
            other += step
        if 0 <= other < len(lines):
            line = lines[other].strip()
            if line.isupper() and len(line.split()) >= 4 and not line[:1].isdigit():
                return True
    return False


def _title_lines(lines: Sequence[str], index: int) -> tuple[str, int]:
    """All-caps or title-case lines right after a bare heading number (at most two)."""
    parts: list[str] = []
    used = 0
    for offset in range(2):
        if index + offset >= len(lines):
            break
        line = lines[index + offset].strip()
        if not line or len(" ".join([*parts, line])) > 80 or line.isdigit():
            break
        if any(p.match(line) for _, p in _STRONG + _WEAK):
            break
        if not (
            line.isupper()
            or (_CJK.search(line) and not _CJK_BAD.search(line))
            or (offset == 0 and _title_case(line))
        ):
            break
        if line not in parts:
            parts.append(line)
        used = offset + 1
    return " ".join(parts), used


def _norm(line: str) -> str:
    return re.sub(r"\d+", "#", " ".join(line.split()))


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
        seen.update({_norm(line) for line in page_lines[:3] + page_lines[-3:]})
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
