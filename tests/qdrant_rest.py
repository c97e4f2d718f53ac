"""A stand-in for the Qdrant server: the subset of its REST API that `QdrantServerIndex`
(qdrant-client, `url=`) calls, served by Starlette over Qdrant's own engine, qdrant-edge.

It exists only because no Qdrant server can be installed on this machine, and the
production shape (API and external workers in separate processes sharing one index)
needs one; it is not a Qdrant server and is not shipped. Routes (JSON as Qdrant's):

    GET  /collections/{c}/exists        PUT  /collections/{c}        GET /collections/{c}
    PUT  /collections/{c}/index         PUT  /collections/{c}/points (upsert)
    POST /collections/{c}/points/query  (vector / sparse prefetches, RRF or DBSF fusion)
    POST /collections/{c}/points/delete (by filter or ids)
    POST /collections/{c}/points/count

Filters: `must` / `should` / `must_not` of `match: {value}` / `{any}` field conditions.
One collection is one `EdgeShard` in `<folder>/<c>`; calls to a shard are serialised by a
lock (the real server runs them concurrently). Points stay in the engine's appendable
segments, searched by brute force: no background optimise, fine for a benchmark's index.

Tests start it in a thread (`running`); benchmarks as a process:
`python -m tests.qdrant_rest --port 6333 --folder DIR`.
"""

from __future__ import annotations

import argparse
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import qdrant_edge as qe
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

RRF_DEFAULT_K = 60
DISTANCES = {"Cosine": qe.Distance.Cosine, "Dot": qe.Distance.Dot, "Euclid": qe.Distance.Euclid}


class ShimError(Exception):
    """A request this stand-in does not serve (400) or a missing collection (404)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _condition(raw: dict[str, Any]) -> qe.ConditionType:
    match = raw.get("match") or {}
    if "value" in match:
        return qe.FieldCondition(raw["key"], match=qe.MatchValue(match["value"]))
    if "any" in match:
        return qe.FieldCondition(raw["key"], match=qe.MatchAny(list(match["any"])))
    raise ShimError(f"unsupported condition {raw}")


def to_filter(raw: dict[str, Any] | None) -> qe.Filter | None:
    if not raw:
        return None
    must, should, must_not = (
        [_condition(c) for c in raw.get(key) or []] for key in ("must", "should", "must_not")
    )
    if not (must or should or must_not):
        return None
    return qe.Filter(must=must or None, should=should or None, must_not=must_not or None)


def _vector(raw: Any) -> Any:
    if isinstance(raw, dict) and "indices" in raw:
        return qe.SparseVector(list(raw["indices"]), list(raw["values"]))
    if isinstance(raw, list):
        return [float(x) for x in raw]
    raise ShimError(f"unsupported vector {str(raw)[:80]}")


def _params(raw: dict[str, Any] | None) -> qe.SearchParams | None:
    if not raw:
        return None
    kwargs: dict[str, Any] = {}
    if raw.get("hnsw_ef") is not None:
        kwargs["hnsw_ef"] = int(raw["hnsw_ef"])
    if raw.get("exact") is not None:
        kwargs["exact"] = bool(raw["exact"])
    if raw.get("idf"):
        kwargs["idf"] = qe.IdfParams(corpus=to_filter(raw["idf"].get("corpus")))
    return qe.SearchParams(**kwargs)


def _query(raw: Any, using: str | None) -> Any:
    if isinstance(raw, dict) and "rrf" in raw:
        return qe.Fusion.Rrf(k=int((raw["rrf"] or {}).get("k", RRF_DEFAULT_K)))
    if isinstance(raw, dict) and raw.get("fusion") == "rrf":
        return qe.Fusion.Rrf(k=RRF_DEFAULT_K)
    if isinstance(raw, dict) and raw.get("fusion") == "dbsf":
        return qe.Fusion.Dbsf()
    if isinstance(raw, dict) and "nearest" in raw:
        raw = raw["nearest"]
    return qe.Query.Nearest(_vector(raw), using=using)


def _point_id(value: Any) -> int | str:
    return value if isinstance(value, int) else str(value)


def _prefetch(raw: dict[str, Any]) -> qe.Prefetch:
    return qe.Prefetch(
        int(raw.get("limit", 10)),
        query=_query(raw["query"], raw.get("using")),
        filter=to_filter(raw.get("filter")),
        params=_params(raw.get("params")),
    )


class Collections:
    """Named EdgeShards under one folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.shards: dict[str, tuple[qe.EdgeShard, threading.Lock]] = {}
        self._lock = threading.Lock()

    def exists(self, name: str) -> bool:
        return name in self.shards

    def create(self, name: str, body: dict[str, Any]) -> None:
        vectors = {
            key: qe.EdgeVectorParams(size=int(v["size"]), distance=DISTANCES[v["distance"]])
            for key, v in (body.get("vectors") or {}).items()
        }
        sparse = {
            key: qe.EdgeSparseVectorParams(
                modifier=qe.Modifier.Idf if (v or {}).get("modifier") == "idf" else None
            )
            for key, v in (body.get("sparse_vectors") or {}).items()
        }
        with self._lock:
            if name in self.shards:
                raise ShimError(f"Collection `{name}` already exists!")
            path = self.folder / name
            path.mkdir(parents=True, exist_ok=True)
            shard = qe.EdgeShard.create(
                str(path), qe.EdgeConfig(vectors=vectors, sparse_vectors=sparse)
            )
            self.shards[name] = (shard, threading.Lock())

    def call(self, name: str, fn: Callable[[qe.EdgeShard], Any]) -> Any:
        if name not in self.shards:
            raise ShimError(f"Collection `{name}` doesn't exist!", status=404)
        shard, lock = self.shards[name]
        with lock:
            return fn(shard)

    def close(self) -> None:
        for shard, lock in self.shards.values():
            with lock:
                shard.flush()
                shard.close()
        self.shards.clear()


def _ok(result: Any, started: float) -> JSONResponse:
    return JSONResponse({"result": result, "status": "ok", "time": time.perf_counter() - started})


COMPLETED = {"operation_id": 0, "status": "completed"}


def build_app(collections: Collections) -> Starlette:
    """The Starlette app serving `collections`."""

    def handler(fn: Callable[[str, dict[str, Any]], Any]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> JSONResponse:
            started = time.perf_counter()
            body = await request.json() if await request.body() else {}
            try:
                result = fn(request.path_params["name"], body)
            except ShimError as exc:
                return JSONResponse(
                    {"status": {"error": str(exc)}, "time": 0.0}, status_code=exc.status
                )
            except Exception as exc:  # noqa: BLE001 - the engine's errors, as Qdrant's 500
                return JSONResponse({"status": {"error": str(exc)}, "time": 0.0}, status_code=500)
            return _ok(result, started)

        return endpoint

    def create(name: str, body: dict[str, Any]) -> bool:
        collections.create(name, body)
        return True

    def info(name: str, _: dict[str, Any]) -> dict[str, Any]:
        count = collections.call(name, lambda s: s.count(qe.CountRequest(exact=True)))
        return {
            "status": "green",
            "optimizer_status": "ok",
            "segments_count": 1,
            "points_count": count,
            "indexed_vectors_count": 0,
            "config": {
                "params": {},
                "hnsw_config": {"m": 16, "ef_construct": 100, "full_scan_threshold": 10000},
                "optimizer_config": {"default_segment_number": 0, "flush_interval_sec": 5},
            },
            "payload_schema": {},
        }

    def create_index(name: str, body: dict[str, Any]) -> dict[str, Any]:
        schema = body.get("field_schema") or {}
        kind = schema if isinstance(schema, str) else schema.get("type")
        if kind != "keyword":
            raise ShimError(f"only keyword payload indexes are served, not {schema}")
        is_tenant = bool(schema.get("is_tenant")) if isinstance(schema, dict) else False
        operation = qe.UpdateOperation.create_field_index(
            body["field_name"], qe.KeywordIndexParams(is_tenant=is_tenant)
        )
        collections.call(name, lambda s: s.update(operation))
        return COMPLETED

    def upsert(name: str, body: dict[str, Any]) -> dict[str, Any]:
        points = [
            qe.Point(
                p["id"],
                {key: _vector(v) for key, v in (p.get("vector") or {}).items()},
                p.get("payload") or {},
            )
            for p in body["points"]
        ]
        operation = qe.UpdateOperation.upsert_points(points)
        collections.call(name, lambda s: s.update(operation))
        return COMPLETED

    def query(name: str, body: dict[str, Any]) -> dict[str, Any]:
        prefetch = body.get("prefetch") or []
        prefetches = [
            _prefetch(p) for p in (prefetch if isinstance(prefetch, list) else [prefetch])
        ]
        request = qe.QueryRequest(
            limit=int(body.get("limit", 10)),
            prefetches=prefetches,
            query=_query(body["query"], body.get("using")) if body.get("query") else None,
            filter=to_filter(body.get("filter")),
            params=_params(body.get("params")),
            with_payload=bool(body.get("with_payload", False)),
        )
        points = collections.call(name, lambda s: s.query(request))
        return {
            "points": [
                {
                    "id": _point_id(p.id),
                    "version": 0,
                    "score": p.score,
                    "payload": p.payload,
                    "vector": None,
                }
                for p in points
            ]
        }

    def delete(name: str, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("filter") is not None:
            where = to_filter(body["filter"])
            if where is None:
                raise ShimError("delete by an empty filter is not served")
            operation = qe.UpdateOperation.delete_points_by_filter(where)
        elif body.get("points") is not None:
            operation = qe.UpdateOperation.delete_points(list(body["points"]))
        else:
            raise ShimError("delete needs a filter or points")
        collections.call(name, lambda s: s.update(operation))
        return COMPLETED

    def count(name: str, body: dict[str, Any]) -> dict[str, int]:
        request = qe.CountRequest(exact=True, filter=to_filter(body.get("filter")))
        return {"count": int(collections.call(name, lambda s: s.count(request)))}

    base = "/collections/{name}"
    return Starlette(
        routes=[
            Route(base + "/exists", handler(lambda n, _: {"exists": collections.exists(n)})),
            Route(base, handler(create), methods=["PUT"]),
            Route(base, handler(info), methods=["GET"]),
            Route(base + "/index", handler(create_index), methods=["PUT"]),
            Route(base + "/points", handler(upsert), methods=["PUT"]),
            Route(base + "/points/query", handler(query), methods=["POST"]),
            Route(base + "/points/delete", handler(delete), methods=["POST"]),
            Route(base + "/points/count", handler(count), methods=["POST"]),
        ]
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running(folder: Path, port: int | None = None) -> Iterator[str]:
    """The stand-in on loopback in a thread of this process; yields its url."""
    collections = Collections(folder)
    port = port or free_port()
    config = uvicorn.Config(
        build_app(collections), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="qdrant-rest", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the Qdrant REST stand-in did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        collections.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=6333)
    parser.add_argument("--folder", type=Path, required=True)
    args = parser.parse_args()
    collections = Collections(args.folder)
    try:
        uvicorn.run(build_app(collections), host="127.0.0.1", port=args.port, log_level="warning")
    finally:
        collections.close()


if __name__ == "__main__":
    main()
