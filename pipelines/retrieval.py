"""Question -> scored chunks: dense and sparse candidates fused by the index (RRF)."""

from __future__ import annotations

from collections.abc import Sequence

from pipelines.models import ScoredChunk
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
