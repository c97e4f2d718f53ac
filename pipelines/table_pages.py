"""Table pages: a page made mostly of table rows scored and handed back whole.

A statement page (an income statement, 合并资产负债表) is one table: a question about a
figure on it names the period in the header row, the metric in a row label and the
statement in the caption, three parts no 128-token unit holds together. The page is
therefore also scored as a whole (`score_pages`: the same reranker over the page's text
under its unit's contextual header) and, when it wins, handed back as the table on it
(`page_passage`, bounded), not as a unit's neighbourhood.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from pipelines.models import Chunk, ScoredChunk
from pipelines.ports import ChunkSource, Reranker
from pipelines.rerank import LexicalReranker, passage_text
from pipelines.tables import grow, is_row, merge_units, table_header

TABLE_SHARE = 0.3
"""A page is a table page when table rows make up at least this share of its characters
(chosen by cross-validation: `pipelines.passages`)."""
PAGE_RADIUS = 40
"""Units read on either side of a hit to find the rest of its page."""


@dataclass(frozen=True)
class TablePage:
    """A page of a document with its units, in order, and the first-stage rank of the
    best candidate unit on it."""

    document_id: str
    page: int
    units: tuple[Chunk, ...]
    share: float
    first_rank: int
    header: str
    """The contextual header of that candidate unit (title, section path, table header)."""

    @property
    def text(self) -> str:
        """What is scored: the header, then the page's text."""
        body = merge_units(self.units).text
        return f"{self.header}\n{body}" if self.header else body


def row_share(text: str) -> float:
    """Share of the non-blank characters of `text` on table rows (`cell | cell` lines)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    total = sum(map(len, lines))
    return sum(len(line) for line in lines if is_row(line)) / total if total else 0.0


def find_table_pages(
    hits: Sequence[ScoredChunk],
    chosen: Sequence[ScoredChunk],
    chunks: ChunkSource,
    min_share: float,
) -> list[TablePage]:
    """The table pages (row share >= `min_share`) of the `chosen` units; `hits` are the
    first-stage candidates in their order (for each page's prior)."""
    first: dict[tuple[str, int], tuple[int, Chunk]] = {}
    for rank, hit in enumerate(hits):
        first.setdefault((hit.chunk.document_id, hit.chunk.page_start), (rank, hit.chunk))
    wanted: dict[tuple[str, int], tuple[int, Chunk]] = {}
    for unit in chosen:
        key = (unit.chunk.document_id, unit.chunk.page_start)
        wanted.setdefault(key, first.get(key, (len(hits), unit.chunk)))
    numbers: dict[str, set[int]] = defaultdict(set)
    for (document_id, _), (_, anchor) in wanted.items():
        n = anchor.number
        numbers[document_id].update(range(max(0, n - PAGE_RADIUS), n + PAGE_RADIUS + 1))
    around = {
        document_id: {c.number: c for c in chunks.get_chunks(document_id, sorted(found))}
        for document_id, found in sorted(numbers.items())
    }
    pages: list[TablePage] = []
    for (document_id, page), (rank, anchor) in wanted.items():
        units = _page_units(anchor, around[document_id])
        share = row_share("\n".join(u.text for u in units))
        if share >= min_share:
            pages.append(TablePage(document_id, page, tuple(units), share, rank, anchor.context))
    return pages


def _page_units(unit: Chunk, neighbours: dict[int, Chunk]) -> list[Chunk]:
    """The units starting on `unit`'s page, in order (those read around it)."""
    found = [unit]
    for step in (-1, 1):
        number = unit.number + step
        while (nxt := neighbours.get(number)) is not None and nxt.page_start == unit.page_start:
            found.append(nxt)
            number += step
    return sorted(found, key=lambda c: c.number)


def page_rows(page: TablePage) -> list[Chunk]:
    """The page's units, each under its contextual header as indexing sets it (the path of
    the page's candidate unit, and the caption, header row and group label of its table)."""
    path = page.header.split("\n", 1)[0]
    before: list[str] = []
    rows: list[Chunk] = []
    for unit in page.units:
        table = table_header(before, unit.text)
        rows.append(
            unit.model_copy(update={"context": "\n".join(part for part in (path, table) if part)})
        )
        before.extend(unit.text.splitlines())
    return rows


def add_page_rows(
    units: Sequence[ScoredChunk],
    pages: Sequence[TablePage],
    scores: Sequence[Sequence[float]],
    *,
    candidates: int,
    prior_weight: float,
    bonus: float,
    count: int,
) -> list[ScoredChunk]:
    """`units` (reranked) with the best `count` units of each table page in `pages` as
    candidates too, scored (`scores`: the reranker's, page by page) plus the rank prior of
    its page's best first-stage unit and `bonus`; a unit found twice keeps its better
    score. Best first."""
    best = {(u.chunk.document_id, u.chunk.number): u for u in units}
    for page, page_scores in zip(pages, scores, strict=True):
        prior = prior_weight * (1 - page.first_rank / max(1, candidates))
        scored = sorted(zip(page_rows(page), page_scores, strict=True), key=lambda p: -p[1])
        for row, score in scored[:count]:
            key = (row.document_id, row.number)
            if key not in best or best[key].score < score + prior + bonus:
                kept = best[key].chunk if key in best else row
                best[key] = ScoredChunk(chunk=kept, score=score + prior + bonus)
    return sorted(best.values(), key=lambda s: (-s.score, s.chunk.document_id, s.chunk.number))


def score_rows(
    query: str, pages: Sequence[TablePage], hits: Sequence[ScoredChunk], reranker: Reranker
) -> list[list[float]]:
    """The reranker's score of each unit of each page, as one more candidate among `hits`."""
    rows = [page_rows(page) for page in pages]
    texts = [passage_text(ScoredChunk(chunk=row, score=0.0)) for page in rows for row in page]
    if not texts:
        return [[] for _ in pages]
    if isinstance(reranker, LexicalReranker):
        flat = reranker.score_among(query, texts, [passage_text(hit) for hit in hits])
    else:
        flat = reranker.score(query, texts)
    out: list[list[float]] = []
    for page in rows:
        out.append(flat[: len(page)])
        flat = flat[len(page) :]
    return out


def score_pages(
    query: str, pages: Sequence[TablePage], hits: Sequence[ScoredChunk], reranker: Reranker
) -> list[float]:
    """The reranker's score of each page as a whole, as one more candidate among `hits`."""
    if not pages:
        return []
    texts = [page.text for page in pages]
    if isinstance(reranker, LexicalReranker):
        return reranker.score_among(query, texts, [passage_text(hit) for hit in hits])
    return reranker.score(query, texts)


def rank_pages(
    pages: Sequence[TablePage],
    scores: Sequence[float],
    units: Sequence[ScoredChunk],
    *,
    candidates: int,
    prior_weight: float,
    whole: float,
    bonus: float,
    max_tokens: int,
    count: int,
) -> list[ScoredChunk]:
    """Each page as a passage (`page_passage` around its best unit in `units`, the reranked
    candidates), best first. Its score: `whole` parts the page's own (its reranker score
    `scores` plus the rank prior of its best first-stage unit among `candidates`) and
    1 - `whole` parts its best unit's, plus `bonus`. At most `count` pages: a table page
    costs many characters, so only the best few are handed back whole."""
    best: dict[tuple[str, int], ScoredChunk] = {}
    for unit in units:
        best.setdefault((unit.chunk.document_id, unit.chunk.page_start), unit)
    ranked = []
    for page, score in zip(pages, scores, strict=True):
        top = best.get((page.document_id, page.page))
        if top is None:
            continue
        own = score + prior_weight * (1 - page.first_rank / max(1, candidates))
        ranked.append(
            ScoredChunk(
                chunk=page_passage(page, top.chunk, max_tokens),
                score=whole * own + (1 - whole) * top.score + bonus,
            )
        )
    return sorted(ranked, key=lambda s: -s.score)[:count]


def page_passage(page: TablePage, unit: Chunk, max_tokens: int) -> Chunk:
    """The page's text when it fits `max_tokens`; otherwise the units around `unit` on the
    page (backwards first, so the table's caption and header row come first) that fit."""
    units = {u.number: u for u in page.units}
    if sum(u.token_count for u in page.units) <= max_tokens or unit.number not in units:
        return merge_units(page.units) if len(page.units) > 1 else page.units[0]
    return grow(units[unit.number], units, max_tokens, lambda u: True)
