"""VectorIndex on qdrant-edge-py: Qdrant's engine in-process, persisted in one folder.

One process at a time may open the folder (the engine locks its write-ahead log).
Points land in appendable segments that are searched by brute force; `optimize()`
builds the HNSW and sparse indexes (minutes per 100k points on 2 cores), so callers run it
when a batch of ingestion is done, never on every upsert.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import qdrant_edge as qe

from pipelines.errors import BackendUnavailable
from pipelines.indexing import (
    DENSE,
    INDEXED_KEYS,
    RRF_K,
    SPARSE,
    chunk_from_payload,
    chunk_payload,
    point_id,
    prefetch_limit,
)
from pipelines.models import IndexedChunk, ScoredChunk, SparseVector

T = TypeVar("T")


@contextmanager
def _engine_errors(action: str) -> Iterator[None]:
    """The engine raises bare `Exception`s: report them as the index being unavailable."""
    try:
        yield
    except (ValueError, TypeError):
        raise
    except Exception as exc:
        raise BackendUnavailable(f"qdrant-edge {action} failed: {exc}") from exc


def _match(key: str, value: str) -> qe.FieldCondition:
    return qe.FieldCondition(key, match=qe.MatchValue(value))


def _filter(tenant: str | None, document_ids: Sequence[str] | None = None) -> qe.Filter | None:
    must: list[qe.ConditionType] = []
    if tenant is not None:
        must.append(_match("tenant", tenant))
    if document_ids is not None:
        must.append(qe.FieldCondition("document_id", match=qe.MatchAny(list(document_ids))))
    return qe.Filter(must=must) if must else None


class EdgeIndex:
    """Dense (cosine) + sparse (IDF) named vectors, payload indexes on tenant and document."""

    def __init__(self, path: Path, dimension: int) -> None:
        self.path = Path(path)
        self.dimension = dimension
        self._closed = False
        config = qe.EdgeConfig(
            vectors={DENSE: qe.EdgeVectorParams(size=dimension, distance=qe.Distance.Cosine)},
            sparse_vectors={SPARSE: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
        )
        with _engine_errors(f"opening {self.path}"):
            if (self.path / "edge_config.json").exists():
                self._shard = qe.EdgeShard.load(str(self.path), config)
            else:
                self.path.mkdir(parents=True, exist_ok=True)
                self._shard = qe.EdgeShard.create(str(self.path), config)
            self._ensure_payload_indexes()

    def _ensure_payload_indexes(self) -> None:
        existing = self._shard.info().payload_schema
        for key in INDEXED_KEYS:
            if key not in existing:
                params = qe.KeywordIndexParams(is_tenant=key == "tenant")
                self._shard.update(qe.UpdateOperation.create_field_index(key, params))

    def _call(self, action: str, fn: Callable[[], T]) -> T:
        with _engine_errors(action):
            return fn()

    def upsert(self, items: Sequence[IndexedChunk]) -> None:
        """Insert or replace points; ids derive from document id and chunk number."""
        points = []
        for item in items:
            if len(item.dense) != self.dimension:
                raise ValueError(f"expected {self.dimension} dimensions, got {len(item.dense)}")
            vector: dict[str, qe.NamedVector] = {
                DENSE: list(item.dense),
                SPARSE: qe.SparseVector(item.sparse.indices, item.sparse.values),
            }
            payload = chunk_payload(item.tenant, item.chunk)
            points.append(
                qe.Point(point_id(item.chunk.document_id, item.chunk.number), vector, payload)
            )
        if points:
            operation = qe.UpdateOperation.upsert_points(points)
            self._call("upsert", lambda: self._shard.update(operation))

    def search(
        self,
        *,
        tenant: str,
        dense: Sequence[float],
        sparse: SparseVector,
        limit: int,
        document_ids: Sequence[str] | None = None,
    ) -> list[ScoredChunk]:
        """One query: dense and sparse prefetches, fused by RRF, filtered by tenant."""
        where = _filter(tenant, document_ids)
        depth = prefetch_limit(limit)
        prefetches = [
            qe.Prefetch(depth, query=qe.Query.Nearest(list(dense), using=DENSE), filter=where)
        ]
        if sparse.indices:
            query = qe.SparseVector(sparse.indices, sparse.values)
            # IDF over the tenant's own points: other tenants' text never shifts the ranking.
            idf = qe.SearchParams(idf=qe.IdfParams(corpus=_filter(tenant)))
            nearest = qe.Query.Nearest(query, using=SPARSE)
            prefetches.append(qe.Prefetch(depth, query=nearest, filter=where, params=idf))
        request = qe.QueryRequest(
            limit=limit,
            prefetches=prefetches,
            query=qe.Fusion.Rrf(k=RRF_K),  # type: ignore[arg-type]  # the stub omits Rrf
            filter=where,
            with_payload=True,
        )
        points = self._call("search", lambda: self._shard.query(request))
        return [
            ScoredChunk(chunk=chunk_from_payload(point.payload or {}), score=point.score)
            for point in points
        ]

    def delete_document(self, tenant: str, document_id: str) -> None:
        where = _filter(tenant, [document_id])
        assert where is not None
        operation = qe.UpdateOperation.delete_points_by_filter(where)
        self._call("delete", lambda: self._shard.update(operation))

    def count(self, *, tenant: str | None = None, document_id: str | None = None) -> int:
        where = _filter(tenant, None if document_id is None else [document_id])
        request = qe.CountRequest(exact=True, filter=where)
        return self._call("count", lambda: self._shard.count(request))

    def optimize(self) -> bool:
        """Build the vector indexes (slow: minutes per 100k points). True if anything changed."""
        return self._call("optimize", self._shard.optimize)

    def close(self) -> None:
        """Flush to disk and release the folder lock. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        with _engine_errors("close"):
            self._shard.flush()
            self._shard.close()
