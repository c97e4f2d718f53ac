"""Request latency while the embedded index optimises: the child-process optimise (a copy
optimised in a child, swapped in) against the old in-process one (the engine holds the GIL).

Fills an EdgeIndex with `--points` points (random unit 512-dim vectors, sparse vectors of
real contract text, as benchmarks/search.py), copies the unoptimised folder once per mode,
and while `optimize()` runs, a client thread makes one request every `--interval-ms` (50
ms): hybrid searches, every 10th request a count (what the document status route reads)
and every 20th an upsert of 10 new points (an upload). Figures are taken in-process,
through `EdgeIndex`: a request stalled by the GIL in this process is stalled the same way
in the API's process. Latency counts from when a request was due, not when it was sent:
after a stall the requests due meanwhile go out late and count the wait (no coordinated
omission). `--api` adds the same measure through `docsight serve`
(benchmarks/index_maintenance_api.py).

    .venv/bin/python -m benchmarks.index_maintenance --quick
    .venv/bin/python -m benchmarks.index_maintenance --points 100000 [--api]

Writes var/benchmarks/index_maintenance.json; ends with one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import DEFAULT_DATA, REPO_ROOT, emit_json, log, print_table
from benchmarks.index_maintenance_api import run_api
from benchmarks.search import QUERIES, passages, points
from pipelines.models import SparseVector
from pipelines.sparse import encode_sparse, encode_sparse_query
from services.adapters.qdrant_edge import EdgeIndex

DIM = 512
TENANTS = 20
CALM_S = 5.0
"""Seconds of requests before the optimise starts (the 'outside' figures)."""


class Client(threading.Thread):
    """A request due every `interval_s`; each one's kind, due time, end (perf_counter s)."""

    def __init__(self, index: EdgeIndex, sparse: list[SparseVector], interval_s: float) -> None:
        super().__init__(daemon=True)
        self.index = index
        self.interval_s = interval_s
        self.sparse = sparse
        self.next_id = 0
        self.stop = threading.Event()
        self.done: list[tuple[str, float, float]] = []

    def run(self) -> None:
        rng = np.random.default_rng(2)
        picker = random.Random(2)
        queries = [encode_sparse_query(q) for q in QUERIES]
        n = 0
        next_at = time.perf_counter()
        while not self.stop.is_set():
            delay = next_at - time.perf_counter()
            if delay > 0 and self.stop.wait(delay):
                break
            started, next_at = next_at, next_at + self.interval_s  # due time, not send time
            n += 1
            tenant = f"t{picker.randrange(TENANTS)}"
            if n % 20 == 0:
                kind = "upsert"
                batch = next(points(10, DIM, TENANTS, ["upload"], self.sparse, 10))
                self.next_id += 1
                self.index.upsert(
                    [
                        item.model_copy(
                            update={
                                "chunk": item.chunk.model_copy(
                                    update={"document_id": f"upload-{self.next_id}"}
                                )
                            }
                        )
                        for item in batch
                    ]
                )
            elif n % 10 == 0:
                kind = "count"
                self.index.count(tenant=tenant, document_id=f"doc-{picker.randrange(100)}")
            else:
                kind = "search"
                dense = rng.standard_normal(DIM).astype(np.float32)
                dense /= np.linalg.norm(dense)
                sparse = picker.choice(queries)
                self.index.search(tenant=tenant, dense=dense.tolist(), sparse=sparse, limit=10)
            self.done.append((kind, started, time.perf_counter()))


def summary(times: list[float]) -> dict[str, Any]:
    if not times:
        return {"requests": 0}
    ms = sorted(t * 1000 for t in times)

    def pick(share: float) -> float:
        return round(ms[min(len(ms) - 1, int(share * len(ms)))], 1)

    return {
        "requests": len(ms),
        "p50_ms": round(statistics.median(ms), 1),
        "p95_ms": pick(0.95),
        "p99_ms": pick(0.99),
        "max_ms": round(ms[-1], 1),
    }


def run_mode(
    mode: str, source: Path, work: Path, sparse: list[SparseVector], interval_s: float
) -> dict[str, Any]:
    folder = work / mode
    shutil.copytree(source, folder)
    index = EdgeIndex(folder, DIM, optimize_idle_s=None)
    client = Client(index, sparse, interval_s)
    try:
        client.start()
        time.sleep(CALM_S)
        started = time.perf_counter()
        changed = index.optimize(in_process=mode == "in_process")
        ended = time.perf_counter()
        load_during = os.getloadavg()[0]
        time.sleep(CALM_S)
        client.stop.set()
        client.join()
    finally:
        index.close()
        shutil.rmtree(folder, ignore_errors=True)
    # a request overlapping the optimise counts as "during" (a stalled one ends after it)
    row: dict[str, Any] = {
        "mode": mode,
        "optimize_s": round(ended - started, 1),
        "changed": changed,
        "load_average_1m_at_end_of_optimise": round(load_during, 2),
    }
    for kind in ("search", "count", "upsert"):
        during = [e - s for k, s, e in client.done if k == kind and e > started and s < ended]
        before = [e - s for k, s, e in client.done if k == kind and e <= started]
        after = [e - s for k, s, e in client.done if k == kind and s >= ended]
        row[f"{kind}_during"] = summary(during)
        if kind == "search":
            row["search_before"] = summary(before)
            row["search_after"] = summary(after)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="10k points (about a minute)")
    parser.add_argument("--modes", default="child,in_process")
    parser.add_argument(
        "--api", action="store_true", help="also through `docsight serve` (its idle optimise)"
    )
    parser.add_argument(
        "--interval-ms", type=float, default=50.0, help="one request due every N ms"
    )
    args = parser.parse_args()
    size = 10_000 if args.quick else args.points
    texts = passages(args.data.resolve())[:2000]
    sparse = [encode_sparse(text) for text in texts]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-maintenance-") as tmp:
        work = Path(tmp)
        index = EdgeIndex(work / "source", DIM, optimize_idle_s=None)
        started = time.perf_counter()
        for batch in points(size, DIM, TENANTS, texts, sparse, 1000):
            index.upsert(batch)
        index.close()
        log(f"filled {size} points in {time.perf_counter() - started:.1f} s")
        for mode in [m for m in args.modes.split(",") if m]:
            log(f"optimising ({mode}) while a client searches, counts and upserts")
            rows.append(run_mode(mode, work / "source", work, sparse, args.interval_ms / 1000))
            log(json.dumps(rows[-1]))
        if args.api:
            log("the same through the API: docsight serve on a copy of the index")
            api_folder = work / "api"
            shutil.copytree(work / "source", api_folder / "index" / "docsight_chunks")
            rows.append(run_api(api_folder, args.interval_ms / 1000, summary))
            log(json.dumps(rows[-1]))
    print(f"{size} points, {DIM} dims, {TENANTS} tenants")
    table = []
    for row in rows:
        phases = ("search_before", "search_during", "count_during", "upsert_during")
        extra = ("status_during", "search_during_service", "status_during_service")
        for phase in [p for p in phases + extra if p in row]:
            s = row[phase]
            table.append(
                [row["mode"], phase, s["requests"], s.get("p50_ms"), s.get("p95_ms")]
                + [s.get("p99_ms"), s.get("max_ms"), row["optimize_s"]]
            )
    print_table(["mode", "phase", "n", "p50 ms", "p95 ms", "p99 ms", "max ms", "opt s"], table)
    result: dict[str, Any] = {
        "benchmark": "index_maintenance",
        "points": size,
        "interval_ms": args.interval_ms,
        "rows": rows,
    }
    by = {row["mode"]: row for row in rows}
    if "child" in by and "in_process" in by:
        old, new = by["in_process"]["search_during"], by["child"]["search_during"]
        for figure in ("p99_ms", "max_ms"):
            if old.get(figure) and new.get(figure):
                result[f"search_during_{figure}_in_process_over_child"] = round(
                    old[figure] / new[figure], 1
                )
    out = REPO_ROOT / "var" / "benchmarks" / "index_maintenance.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    result_with_load = {**result, "load_average_1m": round(os.getloadavg()[0], 2)}
    out.write_text(json.dumps(result_with_load, indent=2, sort_keys=True))
    log(f"wrote {out}")
    emit_json(result)


if __name__ == "__main__":
    main()
