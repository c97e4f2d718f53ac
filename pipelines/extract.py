"""Model-free answers: governing law and agreement/effective dates found by pattern.

Each value comes with its quote: the sentence (or clause) of the document text that holds
it, cut from a chunk's own text, so its offsets in the document text are exact and its
pages come from those offsets (the page offsets kept at ingest when given), never from a
model. A value is only given when a pattern matched; the caller decides which fields a
question asks about (`fields_for`, from `pipelines.query.plan_query`'s categories). The
patterns live in `pipelines.extract_law` and `pipelines.extract_dates`.

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
from pipelines.extract_dates import find_agreement_date, find_effective_date
from pipelines.extract_law import find_governing_law
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
