"""What every VectorIndex adapter shares: point ids, payload layout, rank fusion."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from pipelines.models import Chunk, ScoredChunk

DENSE = "dense"
SPARSE = "sparse"
"""Names of the two vectors of every point."""

RRF_K = 60
"""Reciprocal-rank constant used by every adapter (Qdrant's own default is 2)."""

PAYLOAD_KEYS = (
    "tenant",
    "document_id",
    "number",
    "text",
    "page_start",
    "page_end",
    "section_path",
    "char_start",
    "char_end",
    "token_count",
    "context",
)
INDEXED_KEYS = ("tenant", "document_id")
"""Payload keys with a keyword index: every search filters on them."""

_NAMESPACE = uuid.UUID("6f1c2a4e-9b7d-5e3f-8a21-d0c5b7e94f10")


def point_id(document_id: str, number: int) -> str:
    """Deterministic point id of a chunk, so that re-indexing replaces the same points."""
    return str(uuid.uuid5(_NAMESPACE, f"{document_id}\x1f{number}"))


def chunk_payload(tenant: str, chunk: Chunk) -> dict[str, Any]:
    """The payload stored with a chunk's point."""
    return {"tenant": tenant, **chunk.model_dump()}


def chunk_from_payload(payload: Mapping[str, Any]) -> Chunk:
    """Rebuild the chunk stored by `chunk_payload`."""
    return Chunk.model_validate(
        {key: payload[key] for key in PAYLOAD_KEYS if key != "tenant" and key in payload}
    )


def _key(chunk: Chunk) -> tuple[str, int]:
    return chunk.document_id, chunk.number


def fuse_rrf(
    rankings: Sequence[Sequence[ScoredChunk]], *, limit: int, k: int = RRF_K
) -> list[ScoredChunk]:
    """Reciprocal rank fusion: score = sum over rankings of 1 / (k + position), 0-based.

    The same formula as Qdrant's RRF, so the fake ranks like the engines do. Ties keep
    the order in which chunks were first seen.
    """
    scores: dict[tuple[str, int], float] = {}
    chunks: dict[tuple[str, int], Chunk] = {}
    for ranking in rankings:
        for position, scored in enumerate(ranking):
            key = _key(scored.chunk)
            chunks.setdefault(key, scored.chunk)
            scores[key] = scores.get(key, 0.0) + 1.0 / (k + position)
    ordered = sorted(scores, key=lambda key: scores[key], reverse=True)
    return [ScoredChunk(chunk=chunks[key], score=scores[key]) for key in ordered[:limit]]


def prefetch_limit(limit: int) -> int:
    """Candidates taken from each of the dense and sparse searches before fusion."""
    return max(4 * limit, 50)
