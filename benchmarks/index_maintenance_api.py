"""The API's latency while its embedded index optimises in the background (the `--api` part
of benchmarks/index_maintenance.py).

Fills `<data>/index/docsight_chunks` with the points of benchmarks/index_maintenance, starts
`docsight serve` on it (benchmarks/load.py's `embedded_server`, no LLM) and makes an API key
of tenant t0. Requests are due every `--interval-ms` and sent by `WORKERS` threads: searches
(`POST /v1/search`) and, every 10th, a document status (`GET /v1/documents/{id}`, a 404 for
an id the store does not know), for `CALM_S`; then statuses only (they leave the index idle)
until the server's own idle optimise starts (`OPTIMIZE_IDLE_S` after the last search: a new
gen-<n> folder appears; statuses up to 2 s before it count as during, for the flush and
copy), then searches too until the swap (CURRENT names the new folder, the old one is gone)
and `CALM_S` more. Latency counts from the due time; `*_service` from the send time. Only
the child-process optimise is measured: the server has no switch for the in-process one.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import REPO_ROOT, log
from benchmarks.load import embedded_server
from benchmarks.search import QUERIES

CALM_S = 10.0
START_TIMEOUT_S = 300.0
SWAP_TIMEOUT_S = 1200.0
WORKERS = 8


def make_key(folder: Path, tenant: str) -> str:
    env = os.environ | {"DOCSIGHT_DATA_DIR": str(folder), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "services.cli.main", "keys", "create", "--tenant", tenant]
        + ["--name", "maintenance"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1].strip()


class HttpClient(threading.Thread):
    """A search or document status due every `interval_s`, sent by one of `WORKERS` threads
    (a late one waits for a free worker: the wait counts); (kind, due, sent, end, status)."""

    def __init__(self, url: str, key: str, interval_s: float) -> None:
        super().__init__(daemon=True)
        self.client = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120
        )
        self.interval_s = interval_s
        self.searches = True  # False: statuses only (they leave the index idle)
        self.stop = threading.Event()
        self.done: list[tuple[str, float, float, float, int]] = []

    def run(self) -> None:
        picker = random.Random(3)
        n = 0
        next_at = time.perf_counter()
        with ThreadPoolExecutor(WORKERS) as pool:
            while not self.stop.is_set():
                delay = next_at - time.perf_counter()
                if delay > 0 and self.stop.wait(delay):
                    break
                n += 1
                search = self.searches and n % 10 != 0
                pool.submit(self._one, search, next_at, picker.random())
                next_at += self.interval_s

    def _one(self, search: bool, due: float, draw: float) -> None:
        sent = time.perf_counter()
        if search:
            body = {"query": QUERIES[int(draw * len(QUERIES))], "limit": 10}
            response = self.client.post("/v1/search", json=body)
        else:
            response = self.client.get(f"/v1/documents/doc-{int(draw * 100)}")
        kind = "search" if search else "status"
        self.done.append((kind, due, sent, time.perf_counter(), response.status_code))


def generations(index: Path) -> list[str]:
    return sorted(p.name for p in index.iterdir() if p.name.startswith("gen-"))


def wait(condition: Any, timeout_s: float, what: str) -> float:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)
    return time.perf_counter()


def run_api(folder: Path, interval_s: float, summary: Any) -> dict[str, Any]:
    """`folder` holds index/docsight_chunks, filled and closed."""
    index = folder / "index" / "docsight_chunks"
    first = generations(index)
    with embedded_server(folder, llm=False) as (url, _, _):
        key = make_key(folder, "t0")
        calm = HttpClient(url, key, interval_s)
        calm.start()
        time.sleep(CALM_S)
        calm.stop.set()
        calm.join()
        log("waiting for the server's idle optimise to start (statuses only meanwhile)")
        client = HttpClient(url, key, interval_s)
        client.searches = False
        client.start()
        started = wait(lambda: generations(index) != first, START_TIMEOUT_S, "the optimise")
        client.searches = True

        def swapped() -> bool:
            names = generations(index)
            current = (index / "CURRENT").read_text().strip()
            return len(names) == 1 and names != first and current == names[0]

        ended = wait(swapped, SWAP_TIMEOUT_S, "the swap")
        log(f"optimised and swapped in {ended - started:.1f} s (as seen from outside)")
        time.sleep(CALM_S)
        client.stop.set()
        client.join()
    statuses = sorted({row[-1] for row in calm.done + client.done})
    row: dict[str, Any] = {
        "mode": "api_child",
        "optimize_s": round(ended - started, 1),
        "http_statuses": statuses,
    }

    def pick(rows: list[Any], kind: str, low: float, high: float) -> list[Any]:
        return [r for r in rows if r[0] == kind and r[3] > low and r[1] < high]

    # the flush and copy come just before the new folder shows: 2 s of margin for statuses
    phases = {
        "search_before": pick(calm.done, "search", 0, float("inf")),
        "search_during": pick(client.done, "search", started, ended),
        "status_during": pick(client.done, "status", started - 2, ended),
        "search_after": pick(client.done, "search", ended, float("inf")),
    }
    for name, rows in phases.items():
        if name == "search_after":
            rows = [r for r in rows if r[1] >= ended]
        row[name] = summary([end - due for _, due, _, end, _ in rows])
        row[name + "_service"] = summary([end - sent for _, _, sent, end, _ in rows])
    return row
