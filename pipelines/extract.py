"""Model-free answers: governing law and agreement/effective dates found by pattern.

Each value comes with its quote: the sentence (or clause) of the document text that holds
it, cut from a chunk's own text, so its offsets in the document text are exact and its
pages come from those offsets (the page offsets kept at ingest when given), never from a
model. A value is only given when a pattern matched; the caller decides which fields a
question asks about (`fields_for`, from `pipelines.query.plan_query`'s categories).

- governing law: "governed by / construed in accordance with ... the laws of [the State
  of] X", "X law governs", "适用中华人民共和国法律"; X is matched against known
  jurisdictions (US states, common countries and provinces), else a run of capitalised
  words; the value is the jurisdiction's plain name ("New York", "People's Republic of
  China");
- agreement date: the first date in the opening passages after "dated", "as of", "made",
  "entered into", "executed", "day of" (e.g. "this 7th day of April, 2017"), else the first
  date of the opening; the value is ISO (1999-06-21);
- effective date: a date next to "effective" / "commence(s) on" / '("Effective Date")';
  where none is named, the agreement date is given instead, as `agreement_date` (contracts
  that name no other date take effect when made, but the value is not called effective).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from datetime import date

from pydantic import BaseModel

from pipelines.clause_terms import ClauseTerms
from pipelines.grounding import SourceText
from pipelines.models import Chunk
from pipelines.passages import merge
from pipelines.ports import ChunkSource

FIELDS = {
    "Governing Law": "governing_law",
    "Agreement Date": "agreement_date",
    "Effective Date": "effective_date",
}
"""Clause category -> the field extracted for it."""
OPENING_UNITS = 6
"""Units from the start of a document searched for its dates (title, parties, preamble)."""
_QUOTE_BEFORE = 300
_QUOTE_AFTER = 400


class Extracted(BaseModel):
    """A value found in a document with the exact text it was read from."""

    field: str
    value: str
    quote: str
    document_id: str
    page_start: int
    page_end: int
    char_start: int
    char_end: int


def fields_for(categories: Iterable[ClauseTerms]) -> list[str]:
    """The extractable fields among a query plan's categories."""
    return [FIELDS[c.id] for c in categories if c.id in FIELDS]


# --- governing law ----------------------------------------------------------------------

_US_STATES = (
    "Alabama",
    "Alaska",
    "Arizona",
    "Arkansas",
    "California",
    "Colorado",
    "Connecticut",
    "Delaware",
    "Florida",
    "Georgia",
    "Hawaii",
    "Idaho",
    "Illinois",
    "Indiana",
    "Iowa",
    "Kansas",
    "Kentucky",
    "Louisiana",
    "Maine",
    "Maryland",
    "Massachusetts",
    "Michigan",
    "Minnesota",
    "Mississippi",
    "Missouri",
    "Montana",
    "Nebraska",
    "Nevada",
    "New Hampshire",
    "New Jersey",
    "New Mexico",
    "New York",
    "North Carolina",
    "North Dakota",
    "Ohio",
    "Oklahoma",
    "Oregon",
    "Pennsylvania",
    "Rhode Island",
    "South Carolina",
    "South Dakota",
    "Tennessee",
    "Texas",
    "Utah",
    "Vermont",
    "Virginia",
    "Washington",
    "West Virginia",
    "Wisconsin",
    "Wyoming",
    "District of Columbia",
)
_OTHER = (
    "England and Wales",
    "England",
    "Scotland",
    "Ireland",
    "Hong Kong",
    "Singapore",
    "Japan",
    "Germany",
    "France",
    "Switzerland",
    "the Netherlands",
    "Israel",
    "India",
    "Canada",
    "Ontario",
    "British Columbia",
    "Quebec",
    "Alberta",
    "Australia",
    "New South Wales",
    "Victoria",
    "Sweden",
    "Denmark",
    "Norway",
    "Finland",
    "Italy",
    "Spain",
    "Luxembourg",
    "the Cayman Islands",
    "Bermuda",
    "Korea",
    "Taiwan",
    "Macau",
    "United Kingdom",
)
_ALIASES = {
    "people's republic of china": "People's Republic of China",
    "peoples republic of china": "People's Republic of China",
    "the people's republic of china": "People's Republic of China",
    "prc": "People's Republic of China",
    "p.r.c.": "People's Republic of China",
    "china": "People's Republic of China",
    "中华人民共和国": "People's Republic of China",
    "中国": "People's Republic of China",
    "香港": "Hong Kong",
    "香港特别行政区": "Hong Kong",
    "the netherlands": "Netherlands",
    "the cayman islands": "Cayman Islands",
}
_PLACES = sorted(
    (*_US_STATES, *_OTHER, "People['’]?s Republic of China", "P\\.?R\\.?C\\.?", "China"),
    key=len,
    reverse=True,
)
_PLACE = "|".join(
    p if "\\" in p or "[" in p else re.escape(p).replace("\\ ", r"\s+") for p in _PLACES
)
_GOVERN = re.compile(
    r"\b(?:govern(?:ed|s|ing)?|constru(?:ed|e)|interpret(?:ed)?|enforced|applicable\s+law"
    r"|reference\s+to|application\s+of)\b",
    re.IGNORECASE,
)
_LAWS_OF = re.compile(
    r"\blaws?\s+(?:(?:of|in(?:\s+force\s+in)?)\s+)?(?:the\s+)?"
    r"(?:(?:state|commonwealth|province|republic|kingdom)\s+of\s+)?"
    rf"(?P<place>{_PLACE})\b",
    re.IGNORECASE,
)
_STATE_OF = re.compile(rf"\b(?:state|commonwealth)\s+of\s+(?P<place>{_PLACE})\b", re.IGNORECASE)
_THEREOF = re.compile(r"\blaws\s+(?:thereof|of\s+(?:such|that|said)\s+state)\b", re.IGNORECASE)
_PLACE_LAW = re.compile(rf"\b(?P<place>{_PLACE})\s+law\b(?=[^.;]{{0,40}}\bgovern)", re.IGNORECASE)
_ZH_LAW = re.compile(
    r"(?:适用|受|依据|依照|按照)(?P<place>中华人民共和国|中国|香港特别行政区|香港)"
    r"(?:现行)?(?:的)?法律"
)
_GOVERN_WINDOW = 260


def _place_name(raw: str) -> str:
    text = " ".join(raw.split())
    alias = _ALIASES.get(text.casefold().replace("’", "'"))
    if alias:
        return alias
    for known in (*_US_STATES, *_OTHER):
        if known.casefold() == text.casefold():
            return known.removeprefix("the ")
    return text


def find_governing_law(text: str) -> tuple[str, int, int] | None:
    """(jurisdiction, start, end of the name in `text`) of the first governing-law clause."""
    for match in _ZH_LAW.finditer(text):
        return _place_name(match.group("place")), match.start("place"), match.end("place")
    for trigger in _GOVERN.finditer(text):
        window = text[trigger.start() : trigger.end() + _GOVERN_WINDOW]
        law = _LAWS_OF.search(window)
        if law is not None and ";" not in window[: law.start()].replace("; and", ""):
            start = trigger.start() + law.start("place")
            return _place_name(law.group("place")), start, trigger.start() + law.end("place")
        if _THEREOF.search(window):  # "accepted in the State of Nevada and governed by the
            before = max(0, trigger.start() - 150)  # laws thereof"
            named = list(_STATE_OF.finditer(text, before, trigger.start()))
            if named:
                place = named[-1]
                return _place_name(place.group("place")), place.start("place"), place.end("place")
    law = _PLACE_LAW.search(text)
    if law is not None:
        return _place_name(law.group("place")), law.start("place"), law.end("place")
    return None


# --- dates ----------------------------------------------------------------------------

_MONTHS = {
    m: i
    for i, m in enumerate(
        (
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ),
        1,
    )
}
_MONTH = (
    r"(?P<month>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?"
    r"|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_ORDINAL = r"(?:\s?(?:s\s?t|n\s?d|r\s?d|t\s?h))?"
_DATE = re.compile(
    rf"\b{_MONTH}\s+(?P<d1>\d{{1,2}}){_ORDINAL}\s*,?\s*(?P<y1>(?:19|20)\d{{2}})\b"
    rf"|\b(?P<d2>\d{{1,2}}){_ORDINAL}\s+(?:day\s+of\s+)?{_MONTH.replace('month', 'month2')}"
    rf"\s*,?\s*(?:A\.?D\.?\s*)?(?P<y2>(?:19|20)\d{{2}})\b"
    r"|\b(?P<m3>\d{1,2})/(?P<d3>\d{1,2})/(?P<y3>(?:19|20)?\d{2})\b"
    r"|(?P<y4>(?:19|20)\d{2})\s*年\s*(?P<m4>\d{1,2})\s*月\s*(?P<d4>\d{1,2})\s*日",
    re.IGNORECASE,
)
_AGREEMENT_CUE = re.compile(
    r"\b(?:dated|as\s+of|made|entered\s+into|executed|day\s+of|effective|agreement\s+date)\b"
    r"|签订|签署|订立",
    re.IGNORECASE,
)
_EFFECTIVE_BEFORE = re.compile(
    r"\beffective(?:\s+date)?\b|\bcommenc\w*\s+(?:on|as\s+of)\b|\bbegin\w*\s+on\b|生效",
    re.IGNORECASE,
)
_EFFECTIVE_AFTER = re.compile(
    r"^[\s,]*\(\s*(?:the\s+|this\s+)?[\"“”']?\s*effective\s+date", re.IGNORECASE
)
_CUE_WINDOW = 100


def parse_date(match: re.Match[str]) -> date | None:
    """The date a `_DATE` match names, or None when it is not a calendar date."""
    groups = match.groupdict()
    try:
        if groups["y1"]:
            month = _month(groups["month"])
            return date(int(groups["y1"]), month, int(groups["d1"]))
        if groups["y2"]:
            return date(int(groups["y2"]), _month(groups["month2"]), int(groups["d2"]))
        if groups["y3"]:
            year = int(groups["y3"])
            year += 0 if year >= 100 else (2000 if year < 50 else 1900)
            return date(year, int(groups["m3"]), int(groups["d3"]))
        return date(int(groups["y4"]), int(groups["m4"]), int(groups["d4"]))
    except ValueError:
        return None


def _month(name: str) -> int:
    prefix = name.casefold().rstrip(".")[:3]
    return next(n for m, n in _MONTHS.items() if m.startswith(prefix))


def find_dates(text: str) -> list[tuple[date, int, int]]:
    """Every calendar date in `text` with its span."""
    found: list[tuple[date, int, int]] = []
    for match in _DATE.finditer(text):
        value = parse_date(match)
        if value is not None:
            found.append((value, match.start(), match.end()))
    return found


def find_agreement_date(text: str) -> tuple[date, int, int] | None:
    """The first date after an agreement cue (`_AGREEMENT_CUE` within 100 characters
    before it), else the first date of `text`."""
    dates = find_dates(text)
    for value, start, end in dates:
        if _AGREEMENT_CUE.search(text[max(0, start - _CUE_WINDOW) : start]):
            return value, start, end
    return dates[0] if dates else None


def find_effective_date(text: str) -> tuple[date, int, int] | None:
    """The first date named as effective or commencement date in `text`, or None."""
    for value, start, end in find_dates(text):
        before = text[max(0, start - _CUE_WINDOW) : start]
        if _EFFECTIVE_BEFORE.search(before) or _EFFECTIVE_AFTER.match(text[end : end + 60]):
            return value, start, end
    return None


# --- located values -------------------------------------------------------------------

READ_UNITS = 12
"""At most this many units are re-read to restore a passage (see `readable`)."""


def readable(passages: Sequence[Chunk], source: ChunkSource) -> list[Chunk]:
    """Each passage as the whole units it was made of plus the unit after it: search trims
    a passage where a better one overlaps it (so a sentence may end mid-word) and a
    clause may run on into the next unit. Offsets stay exact (`pipelines.passages.merge`)."""
    restored: list[Chunk] = []
    for passage in passages:
        units = source.get_chunks(
            passage.document_id, list(range(passage.number, passage.number + READ_UNITS))
        )
        inside = [u for u in units if u.char_start < passage.char_end]
        after = [u for u in units if u.char_start >= passage.char_end][:1]
        restored.append(merge([*inside, *after]) if inside else passage)
    return restored


def extract_fields(
    fields: Sequence[str],
    passages: Sequence[Chunk],
    openings: Sequence[Chunk],
    page_starts: Sequence[int] | None = None,
) -> list[Extracted]:
    """The `fields` found in one document: governing law in `passages` (best first) then
    `openings`; dates in `openings` (the document's first units, in order) then `passages`.
    Quotes, offsets and pages come from the chunk the value was read in."""
    found: list[Extracted] = []
    for field in dict.fromkeys(fields):
        if field == "governing_law":
            hit = _first(_law, [*passages, *openings], page_starts, field)
        elif field == "agreement_date":
            hit = _first(find_agreement_date, [*openings, *passages], page_starts, field)
        elif field == "effective_date":  # else the date it was made, named as such
            hit = _first(find_effective_date, [*openings, *passages], page_starts, field) or _first(
                find_agreement_date, [*openings, *passages], page_starts, "agreement_date"
            )
            if hit is not None and hit.field == "agreement_date" and ("agreement_date" in fields):
                continue
        else:
            continue
        if hit is not None:
            found.append(hit)
    return found


def _law(text: str) -> tuple[str, int, int] | None:
    return find_governing_law(text)


def _first(
    find: Callable[[str], tuple[object, int, int] | None],
    chunks: Sequence[Chunk],
    page_starts: Sequence[int] | None,
    field: str,
) -> Extracted | None:
    for chunk in chunks:
        hit = find(chunk.text)
        if hit is None:
            continue
        value, start, end = hit
        shown = value.isoformat() if isinstance(value, date) else str(value)
        return locate(field, shown, chunk, start, end, page_starts)
    return None


_SENTENCE_END = re.compile(r"(?<![A-Z])[.;。；](?=\s|$)|\n\s*\n")


def locate(
    field: str,
    value: str,
    chunk: Chunk,
    start: int,
    end: int,
    page_starts: Sequence[int] | None = None,
) -> Extracted:
    """`value` read at `chunk.text[start:end]`: its sentence as the quote, the quote's
    offsets in the document text and its pages."""
    text = chunk.text
    window_start = max(0, start - _QUOTE_BEFORE)
    ends = [m.end() for m in _SENTENCE_END.finditer(text, window_start, start)]
    q_start = ends[-1] if ends else window_start
    after = _SENTENCE_END.search(text, end, min(len(text), end + _QUOTE_AFTER))
    q_end = after.end() if after else min(len(text), end + _QUOTE_AFTER)
    while q_start < start and text[q_start].isspace():
        q_start += 1
    while q_end > end and text[q_end - 1].isspace():
        q_end -= 1
    char_start, char_end = chunk.char_start + q_start, chunk.char_start + q_end
    return Extracted(
        field=field,
        value=value,
        quote=text[q_start:q_end],
        document_id=chunk.document_id,
        page_start=page_of(chunk, char_start, page_starts),
        page_end=page_of(chunk, char_end - 1, page_starts),
        char_start=char_start,
        char_end=char_end,
    )


def page_of(chunk: Chunk, offset: int, page_starts: Sequence[int] | None) -> int:
    """The page of document offset `offset` inside `chunk`: from the page offsets kept at
    ingest when given, else placed from the chunk's page span and its page breaks."""
    if page_starts:
        return max(1, bisect_right(page_starts, offset))
    if chunk.page_start == chunk.page_end:
        return chunk.page_start
    return SourceText([chunk]).page_of(offset)
