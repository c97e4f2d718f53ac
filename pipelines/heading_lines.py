"""Whether one line of text reads as a heading, and its rank and title.

The numbering patterns (第X章/节/条, 一、, (一), 1., 1.1, ARTICLE V, Section 5.2, PART I,
Item 7., EXHIBIT A) with their fixed ranks, the all-caps shape, and the tests that tell a
title from running text. `pipelines.headings` applies them line by line to a document.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

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
_CJK_BAD = re.compile(r"[,;:。!?，；：！？]")
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


def match_heading(line: str, boilerplate: set[str]) -> tuple[int, str, bool] | None:
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
            if title is None or norm_line(line) in boilerplate:
                return None
            return rank, f"{m.group(0).rstrip('.')} {title}", False
    for rank, pattern in _WEAK:
        m = pattern.match(line)
        if m:
            rest = line[m.end() :].strip(" \t")
            title = _title(rest) if rest else None
            return None if title is None else (rank, f"{m.group(0).strip()} {title}", False)
    if _is_caps_heading(line) and norm_line(line) not in boilerplate:
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


def in_caps_block(lines: Sequence[str], index: int) -> bool:
    for step in (-1, 1):
        other = index + step
        while 0 <= other < len(lines) and not lines[other].strip():
            other += step
        if 0 <= other < len(lines):
            line = lines[other].strip()
            if line.isupper() and len(line.split()) >= 4 and not line[:1].isdigit():
                return True
    return False


def title_lines(lines: Sequence[str], index: int) -> tuple[str, int]:
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


def norm_line(line: str) -> str:
    return re.sub(r"\d+", "#", " ".join(line.split()))
