"""Pages -> structure-aware, token-budgeted chunks.

The document text is the pages joined with a blank line (`document_text`). It is cut
into sections at clause and section headings (`pipelines.headings`), each section into
atoms (sentences; lines of tables and short lines; never inside a `cell | cell` row),
and atoms are packed into chunks of at most `max_tokens` Qwen3 tokens. When a chunk is
full it ends at the strongest boundary in its second half (a sub-section heading, then
a paragraph end, then a sentence end). A chunk never spans two top-level sections
unless one side is tiny. The next chunk repeats up to `overlap_tokens` tokens of whole
sentences from the end of the previous one (a clause tail when no whole sentence fits),
within one section. Atoms longer than the budget are split at line ends, clause
punctuation, spaces and, last, token boundaries.

Every chunk's text is exactly `document_text(pages)[chunk.char_start:chunk.char_end]`
and `token_count` is the exact count of that text.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence

from pipelines.headings import Section, display_width, find_headings, sections_of, typical_width
from pipelines.models import Chunk, Page
from pipelines.packing import PARAGRAPH, SECTION, SENTENCE, Atom, pack_atoms
from pipelines.ports import TokenCounter

PAGE_SEPARATOR = "\n\n"
_SENTENCE_END = re.compile(
    r"[。！？；]+[”’」』)\]]*|[!?;]+[”’\")\]]*(?=\s|$|[^\x00-\x7f])"
    r"|(?<![\s.])\.+[”’\")\]]*(?=\s|$)"
)
_CLAUSE_END = re.compile(r"[,，、:：]+\s*|\s+")
_TERMINAL = tuple(".。!?;:！？；：")


def document_text(pages: Sequence[Page]) -> str:
    """The text chunks index into: page texts joined with a blank line."""
    return PAGE_SEPARATOR.join(page.text for page in pages)


def page_starts(pages: Sequence[Page]) -> list[int]:
    """Offset in `document_text(pages)` where each page's text begins."""
    starts: list[int] = []
    position = 0
    for page in pages:
        starts.append(position)
        position += len(page.text) + len(PAGE_SEPARATOR)
    return starts


def page_at(pages: Sequence[Page], starts: Sequence[int], offset: int) -> int:
    """1-based page number (as in `Page.number`) holding character `offset`."""
    return pages[max(0, bisect_right(starts, offset) - 1)].number


def chunk_pages(
    document_id: str,
    pages: Sequence[Page],
    counter: TokenCounter,
    *,
    max_tokens: int = 512,
    overlap_tokens: int = 64,
) -> list[Chunk]:
    """Split pages into chunks of at most `max_tokens` tokens, following headings."""
    if max_tokens < 8:
        raise ValueError("max_tokens must be at least 8")
    text = document_text(pages)
    starts = page_starts(pages)
    sections = sections_of(text, find_headings(text, starts))
    atoms = _atoms(text, sections, counter, max_tokens)
    spans = pack_atoms(text, atoms, sections, counter, max_tokens, max(0, overlap_tokens))
    chunks: list[Chunk] = []
    for start, end, tokens, path in spans:
        chunks.append(
            Chunk(
                document_id=document_id,
                number=len(chunks),
                text=text[start:end],
                page_start=page_at(pages, starts, start),
                page_end=page_at(pages, starts, end - 1),
                section_path=list(path),
                char_start=start,
                char_end=end,
                token_count=tokens,
            )
        )
    return chunks


def _atoms(text: str, sections: Sequence[Section], counter: TokenCounter, limit: int) -> list[Atom]:
    width = typical_width(text.split("\n"))
    atoms: list[Atom] = []
    previous_end = 0
    for index, section in enumerate(sections):
        first = True
        for start, end, strength in _segments(text, section.start, section.end, width):
            for piece_start, piece_end in _fit(text, start, end, counter, limit):
                tokens = counter.count(text[previous_end:piece_end])
                mark = SECTION if first else strength
                atoms.append(Atom(piece_start, piece_end, tokens, mark, index))
                previous_end, first, strength = piece_end, False, SENTENCE
    return atoms


def _segments(text: str, start: int, end: int, width: int) -> list[tuple[int, int, int]]:
    """Sentences and short lines of text[start:end] as (start, end, strength before)."""
    cuts: dict[int, int] = {}
    for match in _SENTENCE_END.finditer(text, start, end):
        cuts[match.end()] = SENTENCE
    position = start
    while position < end:
        newline = text.find("\n", position, end)
        line_end = end if newline < 0 else newline
        line = text[position:line_end]
        stripped = line.strip()
        if " | " in line:  # a table row: one unit, cut only at its ends
            for cut in [c for c in cuts if position < c < line_end]:
                del cuts[cut]
            cuts[position] = max(cuts.get(position, 0), SENTENCE)
            cuts[line_end] = max(cuts.get(line_end, 0), SENTENCE)
        if not stripped:
            cuts[line_end] = PARAGRAPH
        elif display_width(stripped) < 0.6 * width:
            paragraph = stripped.endswith(_TERMINAL)
            cuts[line_end] = max(cuts.get(line_end, 0), PARAGRAPH if paragraph else SENTENCE)
        position = line_end + 1
    segments: list[tuple[int, int, int]] = []
    strength, previous = SENTENCE, start
    for cut in sorted(c for c in cuts if start < c <= end) + [end]:
        piece = text[previous:cut]
        stripped = piece.strip()
        if stripped:
            lead = len(piece) - len(piece.lstrip())
            segments.append((previous + lead, previous + lead + len(stripped), strength))
            strength = SENTENCE
        strength = max(strength, cuts.get(cut, SENTENCE))
        previous = cut
    return segments


def _fit(
    text: str, start: int, end: int, counter: TokenCounter, limit: int
) -> list[tuple[int, int]]:
    """text[start:end] as pieces of at most `limit` tokens each."""
    if counter.count(text[start:end]) <= limit:
        return [(start, end)]
    for separator in (re.compile(r"\n"), _CLAUSE_END):
        bounds = [m.end() for m in separator.finditer(text, start, end) if m.end() < end]
        if bounds:
            return _merge(text, [start, *bounds, end], counter, limit)
    cut = _token_cut(text, start, end, counter, limit)
    return [(start, cut), *_fit(text, cut, end, counter, limit)]


def _merge(
    text: str, bounds: list[int], counter: TokenCounter, limit: int
) -> list[tuple[int, int]]:
    """Greedily join consecutive pieces between `bounds` while they fit the limit."""
    pieces: list[tuple[int, int]] = []
    index = 0
    while index < len(bounds) - 1:
        begin = _skip_space(text, bounds[index], bounds[-1])
        stop = index + 1
        while stop + 1 < len(bounds) and counter.count(text[begin : bounds[stop + 1]]) <= limit:
            stop += 1
        finish = _trim_end(text, begin, bounds[stop])
        if finish > begin:
            pieces.extend(_fit(text, begin, finish, counter, limit))
        index = stop
    return pieces


def _token_cut(text: str, start: int, end: int, counter: TokenCounter, limit: int) -> int:
    """The largest cut such that text[start:cut] has at most `limit` tokens (at least 1 char)."""
    low, high = start + 1, end - 1
    while low < high:
        middle = (low + high + 1) // 2
        if counter.count(text[start:middle]) <= limit:
            low = middle
        else:
            high = middle - 1
    return low


def _skip_space(text: str, position: int, end: int) -> int:
    while position < end and text[position].isspace():
        position += 1
    return position


def _trim_end(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1].isspace():
        end -= 1
    return end
