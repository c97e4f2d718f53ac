"""VectorIndex on qdrant-edge-py: Qdrant's engine in-process, persisted in one folder.

One EdgeIndex at a time may open the folder (`qdrant_edge_folder`: a lock file, a CURRENT
pointer, one shard folder per generation). Points land in appendable segments searched by
brute force (~20 ms a query at 100k points of 512 dimensions); `optimize()` builds the HNSW
and sparse indexes (on 2 cores: 13 s for 34k real USE embeddings, 3 minutes for 100k random
vectors; a query then takes 2-5 ms). The engine holds the GIL while it optimises, so the
optimise runs on a copy in a child process (`qdrant_edge_optimize`): under the write lock
the live shard is flushed and copied to a new generation, upserts and deletes made after
the copy are kept in an op log, the child optimises the copy, and the parent loads it,
replays the log, points CURRENT at it and swaps it in under the write lock. Searches,
counts and updates keep being answered by the live shard meanwhile. The index runs this
itself in a background thread once `OPTIMIZE_MIN_POINTS` points changed and nothing
touched it for `OPTIMIZE_IDLE_S` seconds.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
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
from services.adapters.qdrant_edge_folder import IndexFolder
from services.adapters.qdrant_edge_live import LiveShard
from services.adapters.qdrant_edge_optimize import OptimizeChild

T = TypeVar("T")
log = logging.getLogger(__name__)

OPTIMIZE_IDLE_S = 60.0
"""Seconds without upserts, deletes or searches before the background optimise runs."""
OPTIMIZE_MIN_POINTS = 1_000
"""Points upserted or deleted since the last optimise that make one worth running."""
HNSW_EF = 512
"""Candidates the dense HNSW search keeps (Qdrant's default: 100). Measured on 34k USE
embeddings of CUAD text, the 50 dense prefetch hits share 0.91 with the exact search at
the default, 0.995 at 512 (1.9 ms a query). Brute-force segments ignore it."""


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


_DENSE_PARAMS = qe.SearchParams(hnsw_ef=HNSW_EF)


class EdgeIndex:
    """Dense (cosine) + sparse (IDF) named vectors, payload indexes on tenant and document."""

    def __init__(
        self,
        path: Path,
        dimension: int,
        *,
        optimize_idle_s: float | None = OPTIMIZE_IDLE_S,
        optimize_min_points: int = OPTIMIZE_MIN_POINTS,
    ) -> None:
        """`optimize_idle_s=None` turns the background optimise off (call `optimize()`)."""
        self.path = Path(path)
        self.dimension = dimension
        self.optimizations = 0  # optimises finished since open
        self._closed = False
        self._optimizing = threading.Lock()  # one optimise at a time; close waits for it
        self.child: OptimizeChild | None = None  # the optimise child while one runs
        self._child_args: list[str] = []  # tests: extra arguments of the optimise child
        self._changed = 0  # points upserted or deleted since the last optimise
        self._last_used = time.monotonic()
        self._optimized = threading.Event()  # set while nothing is left to optimise
        self._stop = threading.Event()
        config = qe.EdgeConfig(
            vectors={DENSE: qe.EdgeVectorParams(size=dimension, distance=qe.Distance.Cosine)},
            sparse_vectors={SPARSE: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
        )
        self._folder = IndexFolder(self.path)
        with _engine_errors(f"opening {self.path}"):
            self._folder.acquire()
            try:
                live = self._folder.live()
                if live is not None:
                    shard = qe.EdgeShard.load(str(live), config)
                else:
                    live = self._folder.next_generation()
                    shard = qe.EdgeShard.create(str(live), config)
                    self._folder.point_to(live)
                self._live = LiveShard(shard, live)
                self._ensure_payload_indexes()
                if shard.info().points_count:  # reopened: check once when idle
                    self._changed = optimize_min_points
            except BaseException:
                self._folder.release()
                raise
        if self._changed < optimize_min_points:
            self._optimized.set()
        self._idle_s = optimize_idle_s
        self._min_points = optimize_min_points
        self._optimizer: threading.Thread | None = None
        if optimize_idle_s is not None:
            self._optimizer = threading.Thread(
                target=self._optimize_when_idle,
                name=f"edge-optimize-{self.path.name}",
                daemon=True,
            )
            self._optimizer.start()

    def _ensure_payload_indexes(self) -> None:
        shard = self._live.shard
        existing = shard.info().payload_schema
        for key in INDEXED_KEYS:
            if key not in existing:
                params = qe.KeywordIndexParams(is_tenant=key == "tenant")
                shard.update(qe.UpdateOperation.create_field_index(key, params))

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
            self._update("upsert", qe.UpdateOperation.upsert_points(points))
            self._touch(len(points))

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
        nearest_dense = qe.Query.Nearest(list(dense), using=DENSE)
        prefetches = [qe.Prefetch(depth, query=nearest_dense, filter=where, params=_DENSE_PARAMS)]
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
        with self._live.reading() as shard:
            points = self._call("search", lambda: shard.query(request))
        self._touch(0)
        return [
            ScoredChunk(chunk=chunk_from_payload(point.payload or {}), score=point.score)
            for point in points
        ]

    def delete_document(self, tenant: str, document_id: str) -> None:
        where = _filter(tenant, [document_id])
        assert where is not None
        self._update("delete", qe.UpdateOperation.delete_points_by_filter(where))
        self._touch(self._min_points)  # unknown count: let the idle optimise vacuum

    def count(self, *, tenant: str | None = None, document_id: str | None = None) -> int:
        where = _filter(tenant, None if document_id is None else [document_id])
        request = qe.CountRequest(exact=True, filter=where)
        with self._live.reading() as shard:
            return self._call("count", lambda: shard.count(request))

    def _update(self, action: str, operation: qe.UpdateOperation) -> None:
        self._call(action, lambda: self._live.update(operation))

    def optimize(self, *, in_process: bool = False) -> bool:
        """Build the vector indexes (minutes per 100k points). True if anything changed.

        Runs on a copy in a child process, then swaps it in (module docstring): searches,
        counts and updates are answered meanwhile. `in_process=True`: the engine's optimise
        on the live shard, which keeps the GIL (the whole process pauses) until done."""
        with self._optimizing:
            if self._closed:
                return False
            if in_process:
                with self._live.write:
                    changed = self._changed
                    result = self._call("optimize", self._live.shard.optimize)
            else:
                result, changed = self._optimize_copy()
            self._changed -= changed
            self.optimizations += 1
            if self._changed < self._min_points:
                self._optimized.set()
            return result

    def _optimize_copy(self) -> tuple[bool, int]:
        """Copy, optimise in a child, load, replay, swap. (changed segments?, changes done)"""
        with self._live.write:
            changed = self._changed
            copy = self._folder.next_generation()
            self._call("copy", lambda: self._live.copy_to(copy))
        try:
            self.child = self._call("start", lambda: OptimizeChild(copy, self._child_args))
            try:
                result = self.child.wait(self._stop)
            finally:
                self.child = None
            fresh = self._call("load", lambda: qe.EdgeShard.load(str(copy)))
            replayed = self._call(
                "swap", lambda: self._live.swap(fresh, copy, lambda: self._folder.point_to(copy))
            )
        except BaseException:
            self._live.drop_log()
            shutil.rmtree(copy, ignore_errors=True)
            raise
        log.info("swapped in %s (%d updates replayed)", copy, replayed)
        return result, changed

    def wait_optimized(self, timeout: float | None = None) -> bool:
        """Wait until fewer than `optimize_min_points` changes wait for an optimise (True),
        or `timeout` seconds passed (False)."""
        return self._optimized.wait(timeout)

    def _touch(self, changed: int) -> None:
        self._last_used = time.monotonic()
        if changed:
            self._changed += changed
            if self._changed >= self._min_points:
                self._optimized.clear()

    def _optimize_when_idle(self) -> None:
        assert self._idle_s is not None
        poll = min(5.0, max(0.05, self._idle_s / 4))
        while not self._stop.wait(poll):
            idle = time.monotonic() - self._last_used >= self._idle_s
            if not idle or self._changed < self._min_points:
                continue
            started = time.perf_counter()
            try:
                changed = self.optimize()
            except BackendUnavailable as exc:  # logged, retried after the next idle spell
                if self._stop.is_set():
                    return
                log.warning("background optimise of %s failed: %s", self.path, exc)
                self._last_used = time.monotonic()
                continue
            log.info(
                "optimised %s in %.1f s (changed: %s)",
                self.path,
                time.perf_counter() - started,
                changed,
            )

    def close(self) -> None:
        """Stop the background optimise (killing its child), flush to disk and release the
        folder. Safe to call twice."""
        self._stop.set()
        with self._optimizing, self._live.write:
            if self._closed:
                return
            self._closed = True
            try:
                with _engine_errors("close"):
                    self._live.shard.flush()
                    self._live.retire(self._live.shard)
            finally:
                self._folder.release()
        if self._optimizer is not None and self._optimizer is not threading.current_thread():
            self._optimizer.join(timeout=10)
