"""Contracts uploaded at once through the API while another client searches: search and
status latency during ingestion, against the same probes on the idle server, in one run.

`docsight serve` (the embedded deployment, set up as in `benchmarks.ingest`: SQLite,
qdrant-edge, the filesystem broker, the worker in the API process, no LLM). First
`--seed` contracts are ingested so that searches find passages. Then, for `--idle-s`
seconds, the probes run alone (the baseline); then `--contracts N` PDFs (default 50: the
dev set's CUAD contracts, smallest first, then numbered copies with a unique comment line
after %%EOF, as `benchmarks.load` makes them) are POSTed at once, and the probes go on
until the last document is `ready`:

- search: `POST /v1/search` (hybrid search of the searches of `benchmarks.load`, limit 5),
  one every `--search-every-ms`, each waiting for its answer;
- status: `GET /v1/documents/{id}` of a seed document, one every `--status-every-ms`.

Reported: p50/p95/p99/max and errors of each probe while idle and during ingestion,
upload-to-ready seconds and pages/s, the load average. Target (issue 13): p99 under 1 s
during ingestion. The JSON also goes to `var/benchmarks/ingest-search-<time>.json`.

Run: `.venv/bin/python -m benchmarks.ingest_search [--contracts 50] [--env KEY=VALUE] [--quick]`
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from benchmarks import common
from benchmarks.ingest import RESULTS_DIR, parse_env
from benchmarks.ingest_service import Server, server_env, service_server, upload_and_wait
from benchmarks.load import SEARCHES, Op, timed, upload_files

TARGET_P99_S = 1.0


class Probe(threading.Thread):
    """Calls `request` every `every_s` seconds (after each answer) into the current `Op`."""

    def __init__(self, server: Server, name: str, every_s: float, request: Any) -> None:
        super().__init__(daemon=True)
        self.client = httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {server.key}"}, timeout=60
        )
        self.request, self.every_s, self.name_ = request, every_s, name
        self.op = Op(name)
        self.stopped = threading.Event()
        self.calls = 0

    def phase(self, name: str) -> Op:
        """Start counting into a new `Op`; the finished one is returned."""
        done, self.op = self.op, Op(f"{self.name_} {name}")
        return done

    def run(self) -> None:
        while not self.stopped.is_set():
            op = self.op
            started = time.perf_counter()
            timed(op, lambda: self.request(self.client, self.calls))
            op.wall_s += time.perf_counter() - started
            self.calls += 1
            self.stopped.wait(self.every_s)

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=120)
        self.client.close()


def write_files(files: Sequence[tuple[str, bytes]], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, body in files:
        path = folder / name
        path.write_bytes(body)
        paths.append(path)
    return paths


def run(args: Any, extra_env: dict[str, str], tmp: Path) -> dict[str, Any]:
    files = upload_files(args.data, args.seed + args.contracts)
    seeds = write_files(files[: args.seed], tmp / "seed")
    batch = write_files(files[args.seed :], tmp / "batch")
    with service_server(tmp / "data", server_env(tmp / "data", extra_env)) as server:
        seeded = upload_and_wait(server, seeds, args.ingest_timeout)
        if seeded.ready != len(seeds):
            raise SystemExit(f"seed documents not ready: {seeded.failed}")
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {server.key}"}
        ) as client:
            seed_id = client.get("/v1/documents").json()["documents"][0]["id"]

        def search(client: httpx.Client, n: int) -> httpx.Response:
            query = SEARCHES[n % len(SEARCHES)]
            return client.post("/v1/search", json={"query": query, "limit": 5})

        def status(client: httpx.Client, _n: int) -> httpx.Response:
            return client.get(f"/v1/documents/{seed_id}")

        probes = [
            Probe(server, "search", args.search_every_ms / 1000, search),
            Probe(server, "status", args.status_every_ms / 1000, status),
        ]
        for probe in probes:
            probe.start()
        time.sleep(args.idle_s)
        idle = [probe.phase("during ingestion") for probe in probes]
        load_before = os.getloadavg()[0]
        ingest = upload_and_wait(server, batch, args.ingest_timeout)
        busy = [probe.phase("after") for probe in probes]
        load_after = os.getloadavg()[0]
        for probe in probes:
            probe.stop()
    phases = {op.name: op.summary() for op in [*idle, *busy]}
    p99s = {op.name: op.summary()["p99_s"] for op in busy}
    return {
        "benchmark": "ingest_search",
        "contracts": len(batch),
        "seed": len(seeds),
        "ingest": {
            "seconds": round(ingest.seconds, 2),
            "pages": ingest.pages,
            "pages_per_s": round(ingest.pages / ingest.seconds, 2) if ingest.seconds else 0,
            "ready": ingest.ready,
            "failed": ingest.failed,
            "cpu_s": round(ingest.cpu_s, 2),
        },
        "probes": phases,
        "p99_during_ingestion_s": p99s,
        "target_p99_s": TARGET_P99_S,
        "target_met": all(v < TARGET_P99_S for v in p99s.values())
        and all(op.summary()["server_errors"] == 0 for op in busy),
        "load_average": [round(load_before, 2), round(load_after, 2)],
        "cpu_count": os.cpu_count(),
        "env": extra_env,
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=common.DEFAULT_DATA, help="dev set folder")
    parser.add_argument("--contracts", type=int, default=50, help="uploaded at once (50)")
    parser.add_argument("--seed", type=int, default=3, help="ingested before the probes (3)")
    parser.add_argument("--idle-s", type=float, default=5.0, help="probes alone first (5)")
    parser.add_argument("--search-every-ms", type=float, default=100.0)
    parser.add_argument("--status-every-ms", type=float, default=200.0)
    parser.add_argument("--ingest-timeout", type=float, default=1800.0)
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the service")
    parser.add_argument("--quick", action="store_true", help="6 contracts, 1 seed, 1 s idle")
    args = parser.parse_args(argv)
    if args.quick:
        args.contracts, args.seed, args.idle_s = 6, 1, 1.0
    common.force_offline()
    extra_env = parse_env(args.env)
    with tempfile.TemporaryDirectory(prefix="docsight-ingest-search-") as tmp:
        result = run(args, extra_env, Path(tmp))
    rows = [
        [name, s["requests"], s["server_errors"], s["p50_s"], s["p95_s"], s["p99_s"], s["max_s"]]
        for name, s in result["probes"].items()
    ]
    common.print_table(["probe", "requests", "5xx", "p50 s", "p95 s", "p99 s", "max s"], rows)
    ingest = result["ingest"]
    common.log(
        f"{result['contracts']} contracts: ready {ingest['ready']} in {ingest['seconds']} s "
        f"({ingest['pages_per_s']} pages/s), failed {len(ingest['failed'])}; "
        f"p99 during ingestion {result['p99_during_ingestion_s']} (target < {TARGET_P99_S} s: "
        f"{'met' if result['target_met'] else 'NOT met'}); load {result['load_average']}"
    )
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    common.emit_json(result)
    (RESULTS_DIR / f"ingest-search-{stamp}.json").write_text(
        json.dumps(result, indent=1), encoding="utf-8"
    )
    return result


if __name__ == "__main__":
    main()
