"""VectorIndex on qdrant-client: a Qdrant server in production, local mode in tests.

The same calls run against a server (`url=`) and against qdrant-client's pure-Python
local mode (`location=":memory:"` or `path=`), which is brute force and only fit for
tests and small data.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import httpx
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ApiException

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

_BACKEND_ERRORS: tuple[type[BaseException], ...] = (
    ApiException,
    httpx.HTTPError,
    OSError,
    RuntimeError,
)
try:  # grpc is only there when qdrant-client speaks gRPC
    import grpc

    _BACKEND_ERRORS += (grpc.RpcError,)
except ImportError:  # pragma: no cover
    pass


@contextmanager
def _backend_errors(action: str) -> Iterator[None]:
    try:
        yield
    except _BACKEND_ERRORS as exc:
        raise BackendUnavailable(f"qdrant {action} failed: {exc}") from exc


def _filter(tenant: str | None, document_ids: Sequence[str] | None = None) -> models.Filter:
    must: list[models.Condition] = []
    if tenant is not None:
        must.append(models.FieldCondition(key="tenant", match=models.MatchValue(value=tenant)))
    if document_ids is not None:
        must.append(
            models.FieldCondition(key="document_id", match=models.MatchAny(any=list(document_ids)))
        )
    return models.Filter(must=must)


class QdrantServerIndex:
    """Dense (cosine) + sparse (IDF) named vectors in one collection, filtered by tenant."""

    def __init__(self, client: QdrantClient, collection: str, dimension: int) -> None:
        self.client = client
        self.collection = collection
        self.dimension = dimension
        with _backend_errors(f"opening collection {collection}"):
            self._ensure_collection()

    @classmethod
    def connect(
        cls,
        collection: str,
        dimension: int,
        *,
        url: str | None = None,
        api_key: str | None = None,
        location: str | None = None,
        path: str | None = None,
        timeout: int = 30,
    ) -> QdrantServerIndex:
        """Open a server (`url`), or local mode (`location=":memory:"` or `path`)."""
        kwargs: dict[str, Any] = {"url": url, "api_key": api_key, "location": location}
        if path is not None:
            kwargs = {"path": path}
        elif url is not None:
            # The client's own version check runs in a thread and only warns; opening the
            # collection below fails fast with BackendUnavailable instead.
            kwargs.update(timeout=timeout, check_compatibility=False)
        with _backend_errors("connecting"):
            client = QdrantClient(**{k: v for k, v in kwargs.items() if v is not None})
        return cls(client, collection, dimension)

    def _ensure_collection(self) -> None:
        if not self.client.collection_exists(self.collection):
            self.client.create_collection(
                self.collection,
                vectors_config={
                    DENSE: models.VectorParams(size=self.dimension, distance=models.Distance.COSINE)
                },
                sparse_vectors_config={
                    SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)
                },
            )
        with warnings.catch_warnings():
            # Local mode warns that payload indexes have no effect there.
            warnings.simplefilter("ignore", UserWarning)
            for key in INDEXED_KEYS:
                schema = models.KeywordIndexParams(
                    type=models.KeywordIndexType.KEYWORD, is_tenant=key == "tenant"
                )
                self.client.create_payload_index(self.collection, key, field_schema=schema)

    def _call(self, action: str, fn: Callable[[], T]) -> T:
        with _backend_errors(action):
            return fn()

    def upsert(self, items: Sequence[IndexedChunk]) -> None:
        """Insert or replace points; ids derive from document id and chunk number."""
        points = []
        for item in items:
            if len(item.dense) != self.dimension:
                raise ValueError(f"expected {self.dimension} dimensions, got {len(item.dense)}")
            vector: dict[str, Any] = {
                DENSE: list(item.dense),
                SPARSE: models.SparseVector(indices=item.sparse.indices, values=item.sparse.values),
            }
            points.append(
                models.PointStruct(
                    id=point_id(item.chunk.document_id, item.chunk.number),
                    vector=vector,
                    payload=chunk_payload(item.tenant, item.chunk),
                )
            )
        if points:
            self._call("upsert", lambda: self.client.upsert(self.collection, points, wait=True))

    def search(
        self,
        *,
        tenant: str,
        dense: Sequence[float],
        sparse: SparseVector,
        limit: int,
        document_ids: Sequence[str] | None = None,
    ) -> list[ScoredChunk]:
        """One Query API call: dense and sparse prefetches fused by RRF, filtered by tenant."""
        where = _filter(tenant, document_ids)
        depth = prefetch_limit(limit)
        prefetch = [models.Prefetch(query=list(dense), using=DENSE, limit=depth, filter=where)]
        if sparse.indices:
            query = models.SparseVector(indices=sparse.indices, values=sparse.values)
            # IDF over the tenant's own points: other tenants' text never shifts the ranking.
            idf = models.SearchParams(idf=models.IdfCorpusParams(corpus=_filter(tenant)))
            prefetch.append(
                models.Prefetch(query=query, using=SPARSE, limit=depth, filter=where, params=idf)
            )
        response = self._call(
            "search",
            lambda: self.client.query_points(
                self.collection,
                prefetch=prefetch,
                query=models.RrfQuery(rrf=models.Rrf(k=RRF_K)),
                query_filter=where,
                limit=limit,
                with_payload=True,
            ),
        )
        return [
            ScoredChunk(chunk=chunk_from_payload(point.payload or {}), score=point.score)
            for point in response.points
        ]

    def delete_document(self, tenant: str, document_id: str) -> None:
        selector = models.FilterSelector(filter=_filter(tenant, [document_id]))
        self._call("delete", lambda: self.client.delete(self.collection, selector, wait=True))

    def count(self, *, tenant: str | None = None, document_id: str | None = None) -> int:
        where = _filter(tenant, None if document_id is None else [document_id])
        result = self._call(
            "count", lambda: self.client.count(self.collection, count_filter=where, exact=True)
        )
        return result.count

    def close(self) -> None:
        """Release the client (and, in local mode with `path=`, the folder lock)."""
        self._call("close", self.client.close)
