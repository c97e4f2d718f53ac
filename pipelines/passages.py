"""Search that returns clauses: small units scored, the enclosing clause returned.

Documents are indexed as small units (`chunking.max_tokens`, ~128 tokens: a clause or a
few sentences). `search_passages` runs the whole retrieval:

1. `plan_query`: categories named by the query expand its keyword side (English and
   Chinese clause phrases); exact terms are kept for the reranker;
2. hybrid search (dense + sparse, RRF) for `candidates` units;
3. a second-stage `Reranker` re-scores them (plus the first stage's rank as a prior);
   3b. table pages (`pipelines.table_pages`): when the best unit lies on a page made mostly of
   table rows (a statement), the other units of that page are scored too, each under its
   table's caption, header row and group label, and the best few join the candidates (a
   figure's row that the first stage missed, next to the row it found);
4. small-to-big (`enclose`): each top unit grows into its enclosing clause, the units
   before and after it under the same section heading, up to `parent_tokens` tokens
   (backwards first, so a clause keeps its heading; tokens, not characters, so that a
   Chinese clause is not four times an English one); units already inside a better
   passage are dropped and overlaps trimmed, so no text is returned twice;
5. `per_document=1` keeps each document's best passage (portfolio search).

A passage is a `ScoredChunk` whose chunk spans its units: page span and exact character
offsets of the document text; its text is the units' texts joined by the whitespace
between them (as many characters, so offsets inside it stay exact).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from pipelines.models import Chunk, ScoredChunk
from pipelines.ports import ChunkSource, Embedder, Reranker, VectorIndex
from pipelines.query import plan_query
from pipelines.rerank import rerank
from pipelines.retrieval import rank, remove_overlaps
from pipelines.sparse import encode_sparse_query
from pipelines.table_pages import (
    TABLE_SHARE,
    add_page_rows,
    find_table_pages,
    rank_pages,
    score_pages,
    score_rows,
)
from pipelines.tables import grow, merge_units

PARENT_TOKENS = 128
"""Default cap on a returned clause, in tokens (chosen by cross-validation)."""
PARENT_RADIUS = 6
"""At most this many units on either side of a hit are read to grow its clause."""
# Stage 3b, table pages (`pipelines.table_pages`). Every constant below, and TABLE_SHARE, was
# chosen by 5-fold cross-validation over the dev questions (FinanceBench and the Chinese
# gold set: `python -m benchmarks.finance_evidence --cv`): every fold chose the stage on, by
# rows, from the page of the best unit only; the page mode (PAGE_ROWS = False: the page
# scored as a whole and handed back whole) was never chosen.
TABLE_PAGES = True
"""Table pages of the top units are looked at (with a reranker only)."""
PAGE_ROWS = True
"""By rows: the units of a table page are scored as candidates (under their table's header)
and join the ranking; False: the page is scored as a whole and handed back as a passage."""
PAGE_POOL = 1
"""Table pages of this many top units are looked at."""
PAGE_BONUS = -1.0
"""Added to the score of a page's unit (by rows) or of the page (by pages)."""
ROW_COUNT = 5
"""By rows: at most this many units of a table page join the candidates."""
PAGE_WHOLE = 1.0
"""By pages: how much the page's score is its own as a whole (1) or its best unit's (0)."""
PAGE_TOKENS = 384
"""By pages: cap on a returned page, in tokens (a larger one: the part around its best
unit)."""
PAGE_COUNT = 1
"""By pages: at most this many pages are handed back."""


@dataclass(frozen=True)
class SearchOptions:
    """Each retrieval stage, on or off (the benchmarks measure them one by one)."""

    expand: bool = True
    rerank: bool = True
    parent_tokens: int = PARENT_TOKENS  # 0: return the scored units themselves
    prior_weight: float | None = None  # None: the reranker's own
    table_pages: bool = TABLE_PAGES  # with the reranker only
    page_whole: float = PAGE_WHOLE
    page_bonus: float = PAGE_BONUS
    page_tokens: int = PAGE_TOKENS
    page_pool: int = PAGE_POOL
    page_count: int = PAGE_COUNT
    page_rows: bool = PAGE_ROWS  # the units of a table page scored, instead of the page
    row_count: int = ROW_COUNT
    table_share: float = TABLE_SHARE


def search_passages(
    query: str,
    *,
    tenant: str,
    embedder: Embedder,
    index: VectorIndex,
    chunks: ChunkSource,
    reranker: Reranker | None = None,
    limit: int = 10,
    document_ids: Sequence[str] | None = None,
    candidates: int = 50,
    per_document: int | None = None,
    options: SearchOptions = SearchOptions(),  # noqa: B008  (frozen)
) -> list[ScoredChunk]:
    """The best `limit` passages for `query` in the tenant's documents, best first."""
    hits, units = first_stage_and_rerank(
        query,
        tenant=tenant,
        embedder=embedder,
        index=index,
        reranker=reranker,
        document_ids=document_ids,
        candidates=max(candidates, limit),
        options=options,
    )
    if per_document is not None:
        units = _per_document(units, per_document)
    pages: list[ScoredChunk] = []
    if reranker is not None and options.rerank and options.table_pages:
        if options.page_rows:
            units = table_rows(query, hits, units, chunks, reranker, options)
        else:
            pages = table_pages(query, hits, units, chunks, reranker, options)
    return to_passages(units, chunks, limit=limit, parent_tokens=options.parent_tokens, pages=pages)


def table_pages(
    query: str,
    hits: Sequence[ScoredChunk],
    units: Sequence[ScoredChunk],
    chunks: ChunkSource,
    reranker: Reranker,
    options: SearchOptions,
) -> list[ScoredChunk]:
    """Stage 3b: the table pages of the top `page_pool` units, each scored as a whole by
    the reranker (plus the rank prior of its best first-stage unit and `page_bonus`), as
    bounded passages, best first (`pipelines.table_pages`)."""
    found = find_table_pages(hits, units[: options.page_pool], chunks, options.table_share)
    prior = reranker.prior_weight if options.prior_weight is None else options.prior_weight
    return rank_pages(
        found,
        score_pages(plan_query(query).text, found, hits, reranker),
        units,
        candidates=len(hits),
        prior_weight=prior,
        whole=options.page_whole,
        bonus=options.page_bonus,
        count=options.page_count,
        max_tokens=options.page_tokens,
    )


def table_rows(
    query: str,
    hits: Sequence[ScoredChunk],
    units: Sequence[ScoredChunk],
    chunks: ChunkSource,
    reranker: Reranker,
    options: SearchOptions,
) -> list[ScoredChunk]:
    """Stage 3b, by rows: the units with every unit of the table pages of the top
    `page_pool` units scored as candidates too (`pipelines.table_pages.add_page_rows`)."""
    found = find_table_pages(hits, units[: options.page_pool], chunks, options.table_share)
    prior = reranker.prior_weight if options.prior_weight is None else options.prior_weight
    return add_page_rows(
        units,
        found,
        score_rows(plan_query(query).text, found, hits, reranker),
        candidates=len(hits),
        prior_weight=prior,
        bonus=options.page_bonus,
        count=options.row_count,
    )


def first_stage_and_rerank(
    query: str,
    *,
    tenant: str,
    embedder: Embedder,
    index: VectorIndex,
    reranker: Reranker | None,
    document_ids: Sequence[str] | None,
    candidates: int,
    options: SearchOptions,
) -> tuple[list[ScoredChunk], list[ScoredChunk]]:
    """Stages 1-3: the first stage's units in its order, and the units reranked."""
    plan = plan_query(query, expand=options.expand)
    if not plan.text:
        return [], []
    hits = index.search(
        tenant=tenant,
        dense=embedder.embed_query(plan.dense_text()),
        sparse=encode_sparse_query(plan.sparse_text()),
        limit=candidates,
        document_ids=document_ids,
    )
    if reranker is None or not options.rerank:
        return hits, hits
    return hits, rerank(plan.text, hits, reranker, prior_weight=options.prior_weight)


def to_passages(
    units: Sequence[ScoredChunk],
    chunks: ChunkSource,
    *,
    limit: int,
    parent_tokens: int,
    pages: Sequence[ScoredChunk] = (),
) -> list[ScoredChunk]:
    """Stage 4: the units, best first, grown into clauses, and the table `pages` (already
    passages) in score order, de-duplicated, at most `limit`."""
    if parent_tokens <= 0 and not pages:
        return remove_overlaps(units)[:limit]
    passages: list[ScoredChunk] = []
    covered: dict[str, list[tuple[int, int]]] = defaultdict(list)
    # Grow a few more than `limit`: some are dropped as already covered.
    pool = [(unit, False) for unit in units[: limit * 3]]
    if pages:
        pool = sorted([*pool, *((page, True) for page in pages)], key=lambda p: -p[0].score)
    by_document: dict[str, set[int]] = defaultdict(set)
    for unit, whole in pool:
        if parent_tokens > 0 and not whole:
            number = unit.chunk.number
            by_document[unit.chunk.document_id].update(
                range(max(0, number - PARENT_RADIUS), number + PARENT_RADIUS + 1)
            )
    around = {
        document_id: {c.number: c for c in chunks.get_chunks(document_id, sorted(numbers))}
        for document_id, numbers in sorted(by_document.items())
    }
    for unit, whole in pool:
        chunk = unit.chunk
        spans = covered[chunk.document_id]
        if any(start <= chunk.char_start and chunk.char_end <= end for start, end in spans):
            continue
        parent = (
            chunk
            if whole or parent_tokens <= 0
            else enclose(chunk, around[chunk.document_id], parent_tokens)
        )
        spans.append((parent.char_start, parent.char_end))
        passages.append(ScoredChunk(chunk=parent, score=unit.score))
        if len(passages) >= limit:
            break
    return remove_overlaps(passages)


def enclose(unit: Chunk, neighbours: dict[int, Chunk], max_tokens: int) -> Chunk:
    """`unit` grown over adjacent units of its section, backwards first, within `max_tokens`."""
    if len(unit.section_path) < 2:  # under the document title only: no clause to grow into
        return unit
    return grow(unit, neighbours, max_tokens, lambda u: u.section_path == unit.section_path)


merge = merge_units


def _per_document(units: Sequence[ScoredChunk], count: int) -> list[ScoredChunk]:
    kept: dict[str, int] = defaultdict(int)
    chosen: list[ScoredChunk] = []
    for unit in rank(units):
        if kept[unit.chunk.document_id] < count:
            kept[unit.chunk.document_id] += 1
            chosen.append(unit)
    return chosen
