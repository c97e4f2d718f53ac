"""Question -> scored chunks: dense and sparse candidates fused by the index (RRF), and
the bookkeeping that keeps text from being returned twice (`remove_overlaps`).

`retrieve` is the first stage alone; the service searches with
`pipelines.passages.search_passages` (expansion, reranking, small-to-big) built on it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence

from pipelines.models import Chunk, ScoredChunk
from pipelines.ports import Embedder, VectorIndex
from pipelines.sparse import encode_sparse_query


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


def _largest_free(start: int, end: int, taken: Sequence[tuple[int, int]]) -> tuple[int, int] | None:
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
