"""Hybrid search latency of the embedded index (qdrant-edge) against qdrant-client local mode.

Points: random unit dense vectors (`--dim`) and sparse vectors of real contract text
(passages of the dev set's CUAD .txt files, cycled), spread over `--tenants` tenants.
Queries: one hybrid query each (dense + sparse prefetch, RRF), filtered by one tenant,
through the real adapters (`EdgeIndex`, `QdrantServerIndex` on `:memory:`).

qdrant-client local mode is pure-Python brute force: it runs only up to `--baseline-max`
points (default 100k). `optimize()` (HNSW + sparse index build, minutes per 100k points)
runs only up to `--optimize-max` points. Ends with one JSON object on the last line.

    .venv/bin/python benchmarks/search.py --quick
    .venv/bin/python benchmarks/search.py --sizes 10000,100000,1000000
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.models import Chunk, IndexedChunk, SparseVector  # noqa: E402
from pipelines.ports import VectorIndex  # noqa: E402
from pipelines.sparse import encode_sparse, encode_sparse_query  # noqa: E402
from services.adapters.qdrant_edge import EdgeIndex  # noqa: E402
from services.adapters.qdrant_server import QdrantServerIndex  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "devset"
QUERIES = [
    "liquidated damages",
    "governing law",
    "termination for convenience",
    "non-compete",
    "exclusivity",
    "change of control",
    "anti-assignment",
    "revenue sharing",
    "minimum commitment",
    "limitation of liability",
    "insurance",
    "audit rights",
    "warranty duration",
    "intellectual property ownership",
    "most favored nation",
    "违约金",
    "净利润",
    "不良贷款率",
]
FALLBACK_TEXT = (
    "The Supplier shall pay liquidated damages for each day of delay. This Agreement is "
    "governed by the laws of the State of New York. Either party may terminate this "
    "Agreement upon thirty days written notice. 本行不良贷款率为百分之一点零六，净利润同比增长。"
)


def passages(data: Path, words: int = 300) -> list[str]:
    """~300-word passages of the CUAD contracts (a fallback sentence if there is none)."""
    found: list[str] = []
    for path in sorted((data / "cuad" / "full_contract_txt").glob("*.txt")):
        tokens = path.read_text(encoding="utf-8", errors="replace").split()
        found += [" ".join(tokens[i : i + words]) for i in range(0, len(tokens), words)]
    return found or [FALLBACK_TEXT]


def points(
    size: int, dim: int, tenants: int, texts: list[str], sparse: list[SparseVector], batch: int
) -> Iterator[list[IndexedChunk]]:
    """Batches of points: random unit vectors, cycled real text, tenants round-robin."""
    rng = np.random.default_rng(0)
    for start in range(0, size, batch):
        n = min(batch, size - start)
        dense = rng.standard_normal((n, dim), dtype=np.float32)
        dense /= np.linalg.norm(dense, axis=1, keepdims=True)
        items = []
        for offset, vector in enumerate(dense.tolist()):
            i = start + offset
            text = texts[i % len(texts)]
            chunk = Chunk(
                document_id=f"doc-{i // 50}",
                number=i % 50,
                text=text,
                page_start=1,
                page_end=1,
                char_start=0,
                char_end=len(text),
                token_count=len(text) // 5,
            )
            items.append(
                IndexedChunk(
                    tenant=f"t{(i // 50) % tenants}",
                    chunk=chunk,
                    dense=vector,
                    sparse=sparse[i % len(sparse)],
                )
            )
        yield items


def latencies(index: VectorIndex, dim: int, count: int, tenants: int) -> dict[str, Any]:
    """p50 / p95 / mean milliseconds of `count` hybrid queries (after 3 warm-up queries)."""
    rng = np.random.default_rng(1)
    picker = random.Random(1)
    times: list[float] = []
    for n in range(count + 3):
        dense = rng.standard_normal(dim).astype(np.float32)
        dense /= np.linalg.norm(dense)
        sparse = encode_sparse_query(picker.choice(QUERIES))
        tenant = f"t{picker.randrange(tenants)}"
        started = time.perf_counter()
        hits = index.search(tenant=tenant, dense=dense.tolist(), sparse=sparse, limit=10)
        elapsed = time.perf_counter() - started
        if n >= 3:
            times.append(elapsed * 1000)
        assert len(hits) == 10, f"expected 10 hits, got {len(hits)}"
    times.sort()
    return {
        "queries": count,
        "p50_ms": round(statistics.median(times), 3),
        "p95_ms": round(times[int(0.95 * (len(times) - 1))], 3),
        "mean_ms": round(statistics.fmean(times), 3),
    }


def fill(index: VectorIndex, batches: Iterator[list[IndexedChunk]]) -> float:
    started = time.perf_counter()
    for items in batches:
        index.upsert(items)
    return time.perf_counter() - started


def rss_gib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)


def run_size(
    size: int, args: argparse.Namespace, texts: list[str], sparse: list[SparseVector]
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def batches() -> Iterator[list[IndexedChunk]]:
        return points(size, args.dim, args.tenants, texts, sparse, args.batch)

    def record(
        engine: str, optimized: bool, upsert_s: float | None, index: VectorIndex, queries: int
    ) -> None:
        row: dict[str, Any] = {"size": size, "engine": engine, "optimized": optimized}
        if upsert_s is not None:
            row["upsert_s"] = round(upsert_s, 1)
            row["upsert_points_per_s"] = round(size / upsert_s)
        row.update(latencies(index, args.dim, queries, args.tenants))
        row["max_rss_gib"] = rss_gib()
        rows.append(row)
        print(json.dumps(row), flush=True)

    with tempfile.TemporaryDirectory(prefix="bench-edge-") as folder:
        edge = EdgeIndex(Path(folder), args.dim)
        try:
            record("edge", False, fill(edge, batches()), edge, args.queries)
            if size <= args.optimize_max:
                started = time.perf_counter()
                edge.optimize()
                optimize_s = time.perf_counter() - started
                record("edge", True, None, edge, args.queries)
                rows[-1]["optimize_s"] = round(optimize_s, 1)
        finally:
            edge.close()
    if size <= args.baseline_max:
        local: Callable[[], VectorIndex] = lambda: QdrantServerIndex.connect(  # noqa: E731
            "bench", args.dim, location=":memory:"
        )
        index = local()
        try:
            upsert_s = fill(index, batches())
            record("qdrant_client_local", False, upsert_s, index, args.baseline_queries)
        finally:
            index.close()
            del index
            gc.collect()
    else:
        print(f"qdrant-client local mode skipped at {size} points (> --baseline-max)", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--quick", action="store_true", help="10k points only (under a minute)")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--tenants", type=int, default=10)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--baseline-queries", type=int, default=20, help="slow: ~0.5 s each")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--baseline-max", type=int, default=100_000)
    parser.add_argument("--optimize-max", type=int, default=100_000)
    args = parser.parse_args()
    sizes = [10_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    if args.quick:
        args.queries = min(args.queries, 100)
        args.baseline_queries = min(args.baseline_queries, 5)

    started = time.perf_counter()
    texts = passages(args.data.resolve())
    sparse = [encode_sparse(text) for text in texts]
    print(f"{len(texts)} passages of real text for sparse vectors; dim {args.dim}", flush=True)
    rows: list[dict[str, Any]] = []
    for size in sizes:
        rows += run_size(size, args, texts, sparse)

    ratios: dict[str, float] = {}
    for size in sizes:
        by = {(r["engine"], r["optimized"]): r for r in rows if r["size"] == size}
        base = by.get(("qdrant_client_local", False))
        for optimized in (False, True):
            edge = by.get(("edge", optimized))
            if base and edge:
                key = f"{size}_{'optimized' if optimized else 'plain'}"
                ratios[key] = round(base["p50_ms"] / edge["p50_ms"], 1)
    print(
        json.dumps(
            {
                "benchmark": "search",
                "dim": args.dim,
                "tenants": args.tenants,
                "passages": len(texts),
                "results": rows,
                "p50_speedup_edge_vs_qdrant_client_local": ratios,
                "total_s": round(time.perf_counter() - started, 1),
                "max_rss_gib": rss_gib(),
            }
        )
    )


if __name__ == "__main__":
    main()
