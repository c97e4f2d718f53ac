"""A document's text -> its numbered clauses, in order.

A clause starts on a line that begins with a clause number: "1.", "1.1", "2.3(a)",
"Section 5.", "ARTICLE IV", "Article 3", "IV.", "第三条", "第三章", "一、", "（一）",
"EXHIBIT A". Lettered items ("(a)", "A)") stay inside their clause. A numbered line
counts only at a paragraph start: after a blank line, a line ending a sentence, or a
short line (the wrapped continuation of a long line is not a clause start, as in
`pipelines.headings`). Text before the first number is the preamble (number None).
A text with fewer than two numbered clauses is split into paragraphs instead.

Clauses are in text order and do not overlap; each starts at its first non-space
character and ends after its last one, so the gaps between clauses are whitespace and
`clause.text == text[clause.char_start:clause.char_end]`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipelines.heading_lines import match_heading, title_lines
from pipelines.headings import display_width, typical_width

_CN = "[一二三四五六七八九十百零〇两]+|\\d{1,3}"
_ROMAN = "[IVX][IVXLC]{0,6}"
# Each pattern's group "n" is the clause number as shown in Clause.number.
_NUMBERS: tuple[re.Pattern[str], ...] = (
    re.compile(rf"^(?P<n>第(?:{_CN})[编部章节条])(?![的中之所规])"),
    re.compile(r"^(?P<n>[一二三四五六七八九十]{1,3})、"),
    re.compile(r"^(?P<n>[(（][一二三四五六七八九十]{1,3}[)）])"),
    re.compile(
        rf"^(?:ARTICLE|Article|SECTION|Section|PART|Part|CLAUSE|Clause)\s+"
        rf"(?P<n>{_ROMAN}|\d{{1,3}}(?:\.\d{{1,3}})*)(?:\.(?!\d))?(?=\s|$|[:\-–—])"
    ),
    re.compile(
        r"^(?:EXHIBIT|Exhibit|SCHEDULE|Schedule|ANNEX|Annex|APPENDIX|Appendix)"
        r"\s+(?P<n>[A-Z0-9][\w.\-]{0,5})(?=\s*$|\s*[:\-–—]|\s+[A-Z\"“])"
    ),
    re.compile(r"^(?P<n>\d{1,3})(?:\.(?=\s|$)|\s*\)(?=\s))"),
    re.compile(r"^(?P<n>\d{1,3}(?:\.\d{1,3}){0,3}(?:\s?\([a-z0-9]{1,4}\))+)\.?(?=\s|$)"),
    re.compile(r"^(?P<n>\d{1,3}(?:\.\d{1,3}){1,3})\.?(?=\s+[^\s\d%,.;:)]|$)"),
    re.compile(rf"^(?P<n>{_ROMAN})\.(?=\s)"),
)
_TERMINAL = tuple(".。!?;:！？；：)”\"'")
PAGE_NUMBER = re.compile(
    r"^\s*(?:(?:page|p\.)\s*)?[-–—]?\s*\d{1,4}\s*[-–—]?\s*(?:(?:of|/)\s*\d{1,4})?\s*$"
    r"|^\s*第\s*\d{1,4}\s*页(?:\s*共\s*\d{1,4}\s*页)?\s*$",
    re.IGNORECASE,
)
"""A page number or footer line ("7", "Page 7", "- 7 -", "7 of 12", "第 7 页")."""
# A cross-reference wrapped to a line start: "Section 7 shall not ...", "14.3 hereof".
_REFERENCE = re.compile(
    r"\s*(?:above|below|hereof|herein|hereto|hereunder|supra|of|and|or|shall|will|may|to|in"
    r"|that|which|is|are|as|with|by|for|on|at|from|has|have|was|were)\b"
)
_BLANK_RUN = re.compile(r"\n[ \t]*\n\s*")


@dataclass(frozen=True)
class Clause:
    """A clause: `text` is exactly `document[char_start:char_end]`, heading included."""

    number: str | None
    heading: str
    text: str
    char_start: int
    char_end: int


def clause_number(line: str) -> tuple[str, int] | None:
    """The clause number a line starts with and where the number's text ends, or None."""
    for pattern in _NUMBERS:
        m = pattern.match(line)
        if m:
            number = m.group("n")
            if number[0].isdigit() and _looks_like_amount(line, m.end()):
                return None
            number = number.replace(" ", "").replace("（", "(").replace("）", ")")
            return number.rstrip(".-–—:") or number, m.end()
    return None


def clause_heading(text: str) -> str:
    """The heading of a clause's text ("Term" for "2. Term. The term ..."), or ""."""
    lines = text.split("\n")
    first = lines[0].strip()
    found = clause_number(first)
    return _heading(first, found[1], lines, 0) if found else ""


def label_end(line: str) -> int:
    """Where the clause number a line starts with ends (0 when none, or when the number
    is a wrapped cross-reference such as "Section 7 shall ...")."""
    found = clause_number(line)
    return 0 if found is None or _REFERENCE.match(line[found[1] :]) else found[1]


def _looks_like_amount(line: str, end: int) -> bool:
    """'2020 revenue', '10 days': a number starting a wrapped line, not a clause number."""
    first = line.split(".", 1)[0].split(" ", 1)[0]
    if first.isdigit() and int(first) > 200:
        return True
    rest = line[end:].lstrip()
    return bool(
        re.match(r"(?:days?|months?|years?|%|percent|hours?|million|billion)\b", rest, re.I)
    )


def split_clauses(text: str) -> list[Clause]:
    """Numbered clauses of `text` in order, the preamble first when it has any text."""
    starts = _clause_starts(text)
    if len(starts) < 2:
        return _paragraphs(text)
    clauses: list[Clause] = []
    if text[: starts[0][0]].strip():
        clauses.append(_clause(text, 0, starts[0][0], None, ""))
    for index, (start, number, heading) in enumerate(starts):
        end = starts[index + 1][0] if index + 1 < len(starts) else len(text)
        clauses.append(_clause(text, start, end, number, heading))
    return clauses


def _clause(text: str, start: int, end: int, number: str | None, heading: str) -> Clause:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Clause(number, heading, text[start:end], start, end)


def _clause_starts(text: str) -> list[tuple[int, str, str]]:
    lines = text.split("\n")
    width = typical_width(lines)
    starts: list[tuple[int, str, str]] = []
    position = 0
    previous, last, footer = "", "", False
    for index, raw in enumerate(lines):
        line = raw.strip()
        offset = position + len(raw) - len(raw.lstrip())
        position += len(raw) + 1
        if PAGE_NUMBER.match(line):  # a page footer: the text before it may go on after it
            previous, footer = last, True
            continue
        if not line:
            previous = previous if footer else ""
            continue
        # A wrapped sentence goes on after a long line without end punctuation, also
        # across a page footer (then only after a nearly full line).
        continuation = (
            previous != ""
            and display_width(previous) >= (0.8 if footer else 0.6) * width
            and not previous.endswith(_TERMINAL)
        )
        found = None if continuation or "|" in line else clause_number(line)
        if found is not None and not _REFERENCE.match(line[found[1] :]):
            number, end = found
            starts.append((offset, number, _heading(line, end, lines, index)))
        previous, last, footer = line, line, False
    return starts


def _heading(line: str, number_end: int, lines: list[str], index: int) -> str:
    """The heading words after the number: 'Term' in '2. Term', '' for running text."""
    rest = line[number_end:].strip(" .:-–—\t")
    if not rest:
        words, _ = title_lines(lines, index + 1)
        return words
    found = match_heading(line, set())
    if found is None:
        return ""
    title = found[1]
    for prefix in (line[:number_end].strip(), line[:number_end].strip().rstrip(".")):
        if title.startswith(prefix):
            return title[len(prefix) :].strip(" .:-–—\t")
    return ""


def _paragraphs(text: str) -> list[Clause]:
    """Blank-line separated paragraphs as unnumbered clauses (a text without numbering)."""
    clauses: list[Clause] = []
    start = 0
    for m in _BLANK_RUN.finditer(text):
        if text[start : m.start()].strip():
            clauses.append(_clause(text, start, m.start(), None, ""))
        start = m.end()
    if text[start:].strip():
        clauses.append(_clause(text, start, len(text), None, ""))
    return clauses
