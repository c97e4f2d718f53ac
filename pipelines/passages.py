"""Search that returns clauses: small units scored, the enclosing clause returned.

Documents are indexed as small units (`chunking.max_tokens`, ~128 tokens: a clause or a
few sentences). `search_passages` runs the whole retrieval:

1. `plan_query`: categories named by the query expand its keyword side (English and
   Chinese clause phrases); exact terms are kept for the reranker;
2. hybrid search (dense + sparse, RRF) for `candidates` units;
3. a second-stage `Reranker` re-scores them (plus the first stage's rank as a prior);
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

PARENT_TOKENS = 128
"""Default cap on a returned clause, in tokens (chosen by cross-validation)."""
PARENT_RADIUS = 6
"""At most this many units on either side of a hit are read to grow its clause."""


@dataclass(frozen=True)
class SearchOptions:
    """Each retrieval stage, on or off (the benchmarks measure them one by one)."""

    expand: bool = True
    rerank: bool = True
    parent_tokens: int = PARENT_TOKENS  # 0: return the scored units themselves
    prior_weight: float | None = None  # None: the reranker's own


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
    units = candidate_units(query, tenant=tenant, embedder=embedder, index=index,
                            reranker=reranker, document_ids=document_ids,
                            candidates=max(candidates, limit), options=options)
    if per_document is not None:
        units = _per_document(units, per_document)
    return to_passages(units, chunks, limit=limit, parent_tokens=options.parent_tokens)


def candidate_units(
    query: str,
    *,
    tenant: str,
    embedder: Embedder,
    index: VectorIndex,
    reranker: Reranker | None,
    document_ids: Sequence[str] | None,
    candidates: int,
    options: SearchOptions,
) -> list[ScoredChunk]:
    """Stages 1-3: the scored units, best first."""
    plan = plan_query(query, expand=options.expand)
    if not plan.text:
        return []
    hits = index.search(
        tenant=tenant,
        dense=embedder.embed_query(plan.dense_text()),
        sparse=encode_sparse_query(plan.sparse_text()),
        limit=candidates,
        document_ids=document_ids,
    )
    if reranker is None or not options.rerank:
        return hits
    return rerank(plan.text, hits, reranker, prior_weight=options.prior_weight)


def to_passages(
    units: Sequence[ScoredChunk], chunks: ChunkSource, *, limit: int, parent_tokens: int
) -> list[ScoredChunk]:
    """Stage 4: the units, best first, grown into clauses, de-duplicated, at most `limit`."""
    if parent_tokens <= 0:
        return remove_overlaps(units)[:limit]
    passages: list[ScoredChunk] = []
    covered: dict[str, list[tuple[int, int]]] = defaultdict(list)
    # Grow a few more than `limit`: some are dropped as already covered.
    pool = units[: limit * 3]
    by_document: dict[str, set[int]] = defaultdict(set)
    for unit in pool:
        number = unit.chunk.number
        by_document[unit.chunk.document_id].update(
            range(max(0, number - PARENT_RADIUS), number + PARENT_RADIUS + 1))
    around = {
        document_id: {c.number: c for c in chunks.get_chunks(document_id, sorted(numbers))}
        for document_id, numbers in sorted(by_document.items())
    }
    for unit in pool:
        chunk = unit.chunk
        spans = covered[chunk.document_id]
        if any(start <= chunk.char_start and chunk.char_end <= end for start, end in spans):
            continue
        parent = enclose(chunk, around[chunk.document_id], parent_tokens)
        spans.append((parent.char_start, parent.char_end))
        passages.append(ScoredChunk(chunk=parent, score=unit.score))
        if len(passages) >= limit:
            break
    return remove_overlaps(passages)


def enclose(unit: Chunk, neighbours: dict[int, Chunk], max_tokens: int) -> Chunk:
    """`unit` grown over adjacent units of its section, backwards first, within `max_tokens`."""
    if len(unit.section_path) < 2:  # under the document title only: no clause to grow into
        return unit
    first = last = unit
    size = unit.token_count
    for step in (-1, 1):
        edge = unit
        while True:
            nxt = neighbours.get(edge.number + step)
            if nxt is None or nxt.section_path != unit.section_path:
                break
            if size + nxt.token_count > max_tokens:
                break
            edge, size = nxt, size + nxt.token_count
            first, last = (nxt, last) if step < 0 else (first, nxt)
    if first is last:
        return unit
    return merge([neighbours[n] for n in range(first.number, last.number + 1)])


def merge(units: Sequence[Chunk]) -> Chunk:
    """Consecutive units of one document as one chunk (numbered as the first)."""
    text = units[0].text
    end = units[0].char_end
    for unit in units[1:]:
        if unit.char_start >= end:  # a gap of whitespace between units
            gap = unit.char_start - end
            text += ("\n" if gap > 1 else " ") * gap + unit.text
        else:  # overlapping units: keep the new part only
            text += unit.text[end - unit.char_start:]
        end = max(end, unit.char_end)
    return units[0].model_copy(update={
        "text": text,
        "char_end": end,
        "page_end": max(u.page_end for u in units),
        "token_count": sum(u.token_count for u in units),
    })


def _per_document(units: Sequence[ScoredChunk], count: int) -> list[ScoredChunk]:
    kept: dict[str, int] = defaultdict(int)
    chosen: list[ScoredChunk] = []
    for unit in rank(units):
        if kept[unit.chunk.document_id] < count:
            kept[unit.chunk.document_id] += 1
            chosen.append(unit)
    return chosen
