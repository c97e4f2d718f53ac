"""In-memory VectorIndex for unit tests: brute-force cosine and sparse dot, fused by RRF."""

from __future__ import annotations

import math
from collections.abc import Sequence

from pipelines.indexing import fuse_rrf, prefetch_limit
from pipelines.models import IndexedChunk, ScoredChunk, SparseVector


def _normalise(vector: Sequence[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector] if norm else list(vector)


class InMemoryIndex:
    """Same behaviour as the Qdrant adapters (IDF per tenant, RRF k=60), no engine."""

    def __init__(self, dimension: int) -> None:
        self.dimension = dimension
        self._points: dict[tuple[str, int], IndexedChunk] = {}

    def upsert(self, items: Sequence[IndexedChunk]) -> None:
        for item in items:
            if len(item.dense) != self.dimension:
                raise ValueError(f"expected {self.dimension} dimensions, got {len(item.dense)}")
            dense = _normalise(item.dense)
            key = (item.chunk.document_id, item.chunk.number)
            self._points[key] = item.model_copy(update={"dense": dense})

    def _idf(self, tenant: str, index: int) -> float:
        # Qdrant's IDF modifier, ln(1 + (N - n + 0.5) / (n + 0.5)), over the tenant's points.
        corpus = [point for point in self._points.values() if point.tenant == tenant]
        having = sum(index in point.sparse.indices for point in corpus)
        return math.log(1.0 + (len(corpus) - having + 0.5) / (having + 0.5))

    def search(
        self,
        *,
        tenant: str,
        dense: Sequence[float],
        sparse: SparseVector,
        limit: int,
        document_ids: Sequence[str] | None = None,
    ) -> list[ScoredChunk]:
        candidates = [
            point
            for point in self._points.values()
            if point.tenant == tenant
            and (document_ids is None or point.chunk.document_id in document_ids)
        ]
        query = _normalise(dense)
        dense_ranked = sorted(
            (
                ScoredChunk(
                    chunk=p.chunk, score=sum(a * b for a, b in zip(query, p.dense, strict=True))
                )
                for p in candidates
            ),
            key=lambda scored: -scored.score,
        )
        idf = {index: self._idf(tenant, index) for index in sparse.indices}
        sparse_ranked = []
        for point in candidates:
            weights = dict(zip(point.sparse.indices, point.sparse.values, strict=True))
            score = sum(
                value * idf[index] * weights[index]
                for index, value in zip(sparse.indices, sparse.values, strict=True)
                if index in weights
            )
            if score > 0:
                sparse_ranked.append(ScoredChunk(chunk=point.chunk, score=score))
        sparse_ranked.sort(key=lambda scored: -scored.score)
        depth = prefetch_limit(limit)
        return fuse_rrf([dense_ranked[:depth], sparse_ranked[:depth]], limit=limit)

    def delete_document(self, tenant: str, document_id: str) -> None:
        for key in [
            key
            for key, point in self._points.items()
            if point.tenant == tenant and point.chunk.document_id == document_id
        ]:
            del self._points[key]

    def count(self, *, tenant: str | None = None, document_id: str | None = None) -> int:
        return sum(
            (tenant is None or point.tenant == tenant)
            and (document_id is None or point.chunk.document_id == document_id)
            for point in self._points.values()
        )

    def close(self) -> None:
        self._points.clear()
