"""Question -> scored chunks: dense and sparse candidates fused by the index (RRF).

`retrieve` is the API's search. `retrieve_for_analysis` builds on it for prompts: it adds
the chunks next to each hit (the clause before and after a match often carries its
subject or its exception) and removes text that overlapping chunks share, so that the
same sentence is never packed twice.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence

from pipelines.models import Chunk, ScoredChunk
from pipelines.ports import ChunkSource, Embedder, VectorIndex
from pipelines.sparse import encode_sparse_query

NEIGHBOUR_DECAY = 0.5
"""A neighbour at distance d from a hit scores hit.score * NEIGHBOUR_DECAY ** d."""


def retrieve(
    query: str,
    *,
    tenant: str,
    embedder: Embedder,
    index: VectorIndex,
    limit: int = 10,
    document_ids: Sequence[str] | None = None,
) -> list[ScoredChunk]:
    """Hybrid search for `query` within the tenant's documents (optionally some of them)."""
    text = query.strip()
    if not text:
        return []
    return index.search(
        tenant=tenant,
        dense=embedder.embed_query(text),
        sparse=encode_sparse_query(text),
        limit=limit,
        document_ids=document_ids,
    )


def retrieve_for_analysis(
    query: str,
    *,
    tenant: str,
    embedder: Embedder,
    index: VectorIndex,
    chunks: ChunkSource,
    limit: int = 10,
    document_ids: Sequence[str] | None = None,
    neighbours: int = 1,
) -> list[ScoredChunk]:
    """Context candidates for a prompt, best first.

    The `limit` hybrid hits of `retrieve`, plus chunks n-d..n+d (d <= `neighbours`) of the
    same document around each hit, scored `NEIGHBOUR_DECAY ** d` times their anchor (so
    below it), then `remove_overlaps`. Neighbours are read from `chunks` (the metadata
    store), one call per document; their documents came from the tenant-filtered search.
    """
    hits = retrieve(
        query,
        tenant=tenant,
        embedder=embedder,
        index=index,
        limit=limit,
        document_ids=document_ids,
    )
    return remove_overlaps(expand_neighbours(hits, chunks, neighbours))


def expand_neighbours(
    hits: Sequence[ScoredChunk], chunks: ChunkSource, neighbours: int = 1
) -> list[ScoredChunk]:
    """`hits` plus their neighbouring chunks (scored below their anchor), best first."""
    best: dict[tuple[str, int], ScoredChunk] = {}
    for hit in hits:
        _keep_best(best, hit)
    wanted: dict[tuple[str, int], float] = {}
    for hit in hits:
        for distance in range(1, neighbours + 1):
            score = hit.score * NEIGHBOUR_DECAY**distance
            for number in (hit.chunk.number - distance, hit.chunk.number + distance):
                key = (hit.chunk.document_id, number)
                if number >= 0 and key not in best and score > wanted.get(key, -math.inf):
                    wanted[key] = score
    by_document: dict[str, list[int]] = defaultdict(list)
    for document_id, number in wanted:
        by_document[document_id].append(number)
    for document_id in sorted(by_document):
        for chunk in chunks.get_chunks(document_id, sorted(by_document[document_id])):
            key = (chunk.document_id, chunk.number)
            if key in wanted:
                _keep_best(best, ScoredChunk(chunk=chunk, score=wanted[key]))
    return rank(best.values())


def remove_overlaps(candidates: Iterable[ScoredChunk]) -> list[ScoredChunk]:
    """Best first, each chunk once, no character of a document in two chunks.

    Chunks overlap their predecessor by up to ~64 tokens (`char_start`/`char_end` say
    where). Going from the best score down, each chunk keeps only the part of its span not
    yet taken by a better one: a lower-scored chunk loses its shared head or tail, and is
    dropped when nothing is left. Dropping low scores later (to fit a budget) therefore
    never removes text of a better chunk. A trimmed chunk keeps its page range (it may name
    one page too many) and gets a proportional `token_count`; packing counts exactly.
    """
    best: dict[tuple[str, int], ScoredChunk] = {}
    for candidate in candidates:
        _keep_best(best, candidate)
    taken: dict[str, list[tuple[int, int]]] = defaultdict(list)
    kept: list[ScoredChunk] = []
    for scored in rank(best.values()):
        chunk = scored.chunk
        spans = taken[chunk.document_id]
        free = _largest_free(chunk.char_start, chunk.char_end, spans)
        if free is None:
            continue
        trimmed = trim(chunk, *free)
        if trimmed is None:
            continue
        spans.append((trimmed.char_start, trimmed.char_end))
        kept.append(scored if trimmed is chunk else ScoredChunk(chunk=trimmed, score=scored.score))
    return kept


def rank(candidates: Iterable[ScoredChunk]) -> list[ScoredChunk]:
    """Best score first; ties by document id then chunk number (deterministic)."""
    return sorted(candidates, key=lambda s: (-s.score, s.chunk.document_id, s.chunk.number))


def trim(chunk: Chunk, start: int, end: int) -> Chunk | None:
    """The chunk cut to document characters [start, end), whitespace-stripped; None if empty.

    Returns `chunk` itself when nothing is cut.
    """
    start, end = max(start, chunk.char_start), min(end, chunk.char_end)
    if (start, end) == (chunk.char_start, chunk.char_end):
        return chunk
    raw = chunk.text[start - chunk.char_start : end - chunk.char_start]
    text = raw.strip()
    if not text:
        return None
    start += len(raw) - len(raw.lstrip())
    end = start + len(text)
    tokens = math.ceil(chunk.token_count * len(text) / max(1, len(chunk.text)))
    return chunk.model_copy(
        update={"text": text, "char_start": start, "char_end": end, "token_count": tokens}
    )


def _keep_best(best: dict[tuple[str, int], ScoredChunk], scored: ScoredChunk) -> None:
    key = (scored.chunk.document_id, scored.chunk.number)
    if key not in best or scored.score > best[key].score:
        best[key] = scored


def _largest_free(
    start: int, end: int, taken: Sequence[tuple[int, int]]
) -> tuple[int, int] | None:
    """The longest part of [start, end) that no span in `taken` covers."""
    pieces = [(start, end)]
    for t_start, t_end in taken:
        next_pieces: list[tuple[int, int]] = []
        for p_start, p_end in pieces:
            if t_end <= p_start or t_start >= p_end:
                next_pieces.append((p_start, p_end))
                continue
            if p_start < t_start:
                next_pieces.append((p_start, t_start))
            if t_end < p_end:
                next_pieces.append((t_end, p_end))
        pieces = next_pieces
    if not pieces:
        return None
    return max(pieces, key=lambda piece: (piece[1] - piece[0], -piece[0]))
