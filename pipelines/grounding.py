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
and ends, and page breaks placed between two known places of different pages when the
text between them holds exactly one blank line per break (pages are joined by one).
Where a break cannot be placed, `page` is the earliest page the quote may start on and
`latest_page` the last; callers may prefer a page the model named within that range.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
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
    """The page where the quote starts, or the first it may start on (see `latest_page`)."""
    page_end: int
    char_start: int
    char_end: int
    latest_page: int
    """The last page the quote may start on: above `page` when a page break inside a
    multi-page chunk could not be placed exactly."""


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

    def __init__(self, chunks: Sequence[Chunk], page_starts: Sequence[int] | None = None) -> None:
        """`page_starts` (offset where page n+1 begins, as `pipelines.chunking.page_starts`
        gives) makes pages exact; without it they come from the chunks."""
        ordered = sorted(chunks, key=lambda c: (c.char_start, c.number))
        self.document_id = ordered[0].document_id if ordered else ""
        pieces: list[str] = []
        offsets: list[int] = []  # document offset of each character of the rebuilt text
        end = 0
        anchors: dict[int, int] = {}
        for chunk in ordered:
            anchors.setdefault(chunk.char_start, chunk.page_start)
            anchors[max(chunk.char_start, chunk.char_end - 1)] = chunk.page_end
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
        self._normal_at: list[int] | None = None
        if page_starts is not None:
            anchors = {at: n for n, at in enumerate(page_starts, 1)}
            self._starts = set(anchors)
        else:
            breaks = self._page_breaks(anchors)
            anchors.update(breaks)
            self._starts = set(breaks)
        self._anchor_at = sorted(anchors)
        self._anchor_page = [anchors[a] for a in self._anchor_at]

    def _page_breaks(self, anchors: dict[int, int]) -> dict[int, int]:
        """Where later pages begin between two known places of different pages, when the
        text between them holds exactly one page separator (a blank line) per page break."""
        known = sorted(anchors.items())
        found: dict[int, int] = {}
        for (at, page), (next_at, next_page) in zip(known, known[1:], strict=False):
            if next_page <= page:
                continue
            first = bisect_right(self._offsets, at)
            last = bisect_right(self._offsets, next_at)
            window = self.text[first:last]
            breaks = [m.end() for m in re.finditer(re.escape(PAGE_SEPARATOR), window)]
            if len(breaks) == next_page - page:
                for n, index in enumerate(breaks, 1):
                    found[self._offsets[min(first + index, len(self._offsets) - 1)]] = page + n
        return found

    def find(self, quote: str, within: tuple[int, int] | None = None) -> QuoteMatch | None:
        """Where `quote` (normalised, ellipsis pieces in order) occurs first, or None;
        `within` (document offsets start, end): only a match inside that span counts."""
        pieces = [normalise(p)[0] for p in _ELLIPSIS.split(_MARKER.sub(" ", quote))]
        pieces = [p for p in pieces if p]
        if not pieces or sum(len(p) for p in pieces) < MIN_QUOTE_CHARS:
            return None
        low, high = 0, len(self._normal)
        if within is not None:
            if self._normal_at is None:  # document offset of each normalised character
                self._normal_at = [self._offsets[w] for w in self._where]
            at = self._normal_at
            low, high = bisect_left(at, within[0]), bisect_left(at, within[1])
        start = self._normal.find(pieces[0], low, high)
        while start >= 0:
            end = self._follow(pieces, start)
            if end is not None and end <= high:
                return self._match(start, end)
            start = self._normal.find(pieces[0], start + 1, high)
        return None

    def text_at(self, start: int, end: int) -> str:
        """The document's own text between document offsets `start` and `end`."""
        return self.text[bisect_left(self._offsets, start) : bisect_left(self._offsets, end)]

    def page_of(self, offset: int) -> int:
        """The page holding document offset `offset`, from the nearest known place before."""
        at = bisect_right(self._anchor_at, offset) - 1
        return self._anchor_page[max(at, 0)] if self._anchor_page else 1

    def latest_page_of(self, offset: int) -> int:
        """The last page that may hold `offset`: the page of the nearest known place after."""
        at = bisect_left(self._anchor_at, offset)
        if at >= len(self._anchor_at):
            return self.page_of(offset)
        page = self._anchor_page[at]
        if self._anchor_at[at] in self._starts and self._anchor_at[at] != offset:
            page -= 1  # a page begins there: offset is on an earlier one
        return max(page, self.page_of(offset))

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
        page = self.page_of(first)
        return QuoteMatch(
            self.document_id,
            page,
            max(page, self.page_of(last)),
            first,
            last + 1,
            max(page, self.latest_page_of(first)),
        )


def find_quote(
    quote: str, chunks: Sequence[Chunk], page_starts: Sequence[int] | None = None
) -> QuoteMatch | None:
    """Where `quote` occurs in the document made of `chunks` (see the module doc), or None.

    For many quotes of one document build a `SourceText` once and call its `find`."""
    return SourceText(chunks, page_starts).find(quote)
