"""Is a quoted span really in the document, and on which page?

Quotes from the model are checked against the document text rebuilt from its chunks
(each chunk's text sits at `char_start` of the document text; overlaps are written once).
Both sides are normalised before comparing: Unicode NFKC (full-width letters, digits and
punctuation become their ASCII forms), case folded, and every whitespace and punctuation
character dropped (so line breaks, hyphen/dash and quote-mark styles, and Chinese
full-width commas or spaces never decide). Symbols such as `$`, `%` and `¥` are kept.

A quote may join verbatim pieces with an ellipsis (`...`, `…`, `……`): each piece must then
occur, in order, within `MAX_ELLIPSIS_GAP` characters of the previous one, and the match
spans from the first piece to the last. Citation markers (`[doc:REF, p.N]`) a model copies
into a quote are removed first. A quote shorter than `MIN_QUOTE_CHARS` normalised
characters never grounds (too short to tell where it is from).

The page of a match is the page of the nearest known place at or before it: chunk starts
and ends, and the page breaks inside a multi-page chunk when it holds exactly one blank
line per break (pages are joined by one). Otherwise a quote inside a chunk that spans two
pages gets the earlier page unless another chunk starts closer to it.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from pipelines.chunking import PAGE_SEPARATOR
from pipelines.models import Chunk

MIN_QUOTE_CHARS = 6
MAX_ELLIPSIS_GAP = 2000
_MARKER = re.compile(r"[\[(]\s*doc\s*:[^\]\)]{0,80}[\])]")
_ELLIPSIS = re.compile(r"\s*(?:\.\s*\.\s*\.|…|⋯)+\s*")
_LOOKALIKES = {"‹": "<"}  # context.py neutralises "<|" and "<document" into "‹..."


@dataclass(frozen=True)
class QuoteMatch:
    """Where a quote is: the document, its pages and offsets in the document text."""

    document_id: str
    page: int
    page_end: int
    char_start: int
    char_end: int


def normalise(text: str) -> tuple[str, list[int]]:
    """`text` normalised for comparison, and for each output character its index in `text`."""
    out: list[str] = []
    where: list[int] = []
    for index, char in enumerate(text):
        char = _LOOKALIKES.get(char, char)
        for piece in unicodedata.normalize("NFKC", char).casefold():
            if piece.isspace() or unicodedata.category(piece).startswith("P"):
                continue
            out.append(piece)
            where.append(index)
    return "".join(out), where


class SourceText:
    """One document's text, normalised once, for locating many quotes."""

    def __init__(self, chunks: Sequence[Chunk]) -> None:
        ordered = sorted(chunks, key=lambda c: (c.char_start, c.number))
        self.document_id = ordered[0].document_id if ordered else ""
        pieces: list[str] = []
        offsets: list[int] = []  # document offset of each character of the rebuilt text
        end = 0
        anchors: dict[int, int] = {}
        for chunk in ordered:
            anchors.setdefault(chunk.char_start, chunk.page_start)
            anchors[max(chunk.char_start, chunk.char_end - 1)] = chunk.page_end
            anchors.update(_page_breaks(chunk))
            start = max(end, chunk.char_start)
            if start >= chunk.char_end:
                continue
            if chunk.char_start > end and pieces:
                pieces.append("\n")  # a gap: never let a match run across it silently
                offsets.append(end)
            text = chunk.text[start - chunk.char_start :]
            pieces.append(text)
            offsets.extend(range(start, start + len(text)))
            end = start + len(text)
        self.text = "".join(pieces)
        self._offsets = offsets
        self._normal, self._where = normalise(self.text)
        self._anchor_at = sorted(anchors)
        self._anchor_page = [anchors[a] for a in self._anchor_at]

    def find(self, quote: str) -> QuoteMatch | None:
        """Where `quote` (normalised, ellipsis pieces in order) occurs first, or None."""
        pieces = [normalise(p)[0] for p in _ELLIPSIS.split(_MARKER.sub(" ", quote))]
        pieces = [p for p in pieces if p]
        if not pieces or sum(len(p) for p in pieces) < MIN_QUOTE_CHARS:
            return None
        start = self._normal.find(pieces[0])
        while start >= 0:
            end = self._follow(pieces, start)
            if end is not None:
                return self._match(start, end)
            start = self._normal.find(pieces[0], start + 1)
        return None

    def page_of(self, offset: int) -> int:
        """The page holding document offset `offset`, from the nearest chunk boundary."""
        at = bisect_right(self._anchor_at, offset) - 1
        return self._anchor_page[max(at, 0)] if self._anchor_page else 1

    def _follow(self, pieces: Sequence[str], start: int) -> int | None:
        """End (normalised index, exclusive) of the pieces after the first, or None."""
        end = start + len(pieces[0])
        for piece in pieces[1:]:
            found = self._normal.find(piece, end)
            if found < 0 or self._gap(end, found) > MAX_ELLIPSIS_GAP:
                return None
            end = found + len(piece)
        return end

    def _gap(self, end: int, found: int) -> int:
        if found == end:
            return 0
        return self._where[found] - self._where[end - 1]

    def _match(self, start: int, end: int) -> QuoteMatch:
        first = self._offsets[self._where[start]]
        last = self._offsets[self._where[end - 1]]
        return QuoteMatch(self.document_id, self.page_of(first), self.page_of(last),
                          first, last + 1)


def _page_breaks(chunk: Chunk) -> dict[int, int]:
    """Offsets where a later page of a multi-page chunk begins, when the chunk holds exactly
    one page separator (a blank line) per page break, so that each must be one."""
    pages = chunk.page_end - chunk.page_start
    if pages <= 0:
        return {}
    separators = [m.end() for m in re.finditer(re.escape(PAGE_SEPARATOR), chunk.text)]
    if len(separators) != pages:
        return {}
    return {chunk.char_start + at: chunk.page_start + n for n, at in enumerate(separators, 1)}


def find_quote(quote: str, chunks: Sequence[Chunk]) -> QuoteMatch | None:
    """Where `quote` occurs in the document made of `chunks` (see the module doc), or None.

    For many quotes of one document build a `SourceText` once and call its `find`."""
    return SourceText(chunks).find(quote)
