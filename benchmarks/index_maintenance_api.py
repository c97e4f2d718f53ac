"""The API's latency while its embedded index optimises in the background (the `--api` part
of benchmarks/index_maintenance.py).

Fills `<data>/index/docsight_chunks` with the points of benchmarks/index_maintenance, starts
`docsight serve` on it (benchmarks/load.py's `embedded_server`, no LLM) and makes an API key
of tenant t0. Searches (`POST /v1/search`) and, every 10th request, a document status
(`GET /v1/documents/{id}`, a 404 for an id the store does not know) run for `CALM_S`; then
the client asks for statuses only (they leave the index idle) until the server's own idle
optimise starts (`OPTIMIZE_IDLE_S` after the last search: a new gen-<n> folder appears; a
status overlapping the flush and copy before it counts as during), then searches too until
the swap (CURRENT names
the new folder, the old one is gone) and `CALM_S` more. Only the child-process optimise is
measured here: the server has no switch for the old in-process one.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import REPO_ROOT, log
from benchmarks.load import embedded_server
from benchmarks.search import QUERIES

CALM_S = 10.0
START_TIMEOUT_S = 300.0
SWAP_TIMEOUT_S = 1200.0


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
    """Searches and document statuses over HTTP; (kind, start, end, status) of each."""

    def __init__(self, url: str, key: str, pause_s: float) -> None:
        super().__init__(daemon=True)
        self.client = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120
        )
        self.pause_s = pause_s
        self.searches = True  # False: statuses only (they leave the index idle)
        self.stop = threading.Event()
        self.done: list[tuple[str, float, float, int]] = []

    def run(self) -> None:
        picker = random.Random(3)
        n = 0
        while not self.stop.wait(self.pause_s):
            n += 1
            started = time.perf_counter()
            if n % 10 == 0 or not self.searches:
                kind = "status"
                response = self.client.get(f"/v1/documents/doc-{picker.randrange(100)}")
            else:
                kind = "search"
                body = {"query": picker.choice(QUERIES), "limit": 10}
                response = self.client.post("/v1/search", json=body)
            self.done.append((kind, started, time.perf_counter(), response.status_code))


def generations(index: Path) -> list[str]:
    return sorted(p.name for p in index.iterdir() if p.name.startswith("gen-"))


def wait(condition: Any, timeout_s: float, what: str) -> float:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)
    return time.perf_counter()


def run_api(folder: Path, pause_s: float, summary: Any) -> dict[str, Any]:
    """`folder` holds index/docsight_chunks, filled and closed."""
    index = folder / "index" / "docsight_chunks"
    first = generations(index)
    with embedded_server(folder, llm=False) as (url, _, _):
        key = make_key(folder, "t0")
        calm = HttpClient(url, key, pause_s)
        calm.start()
        time.sleep(CALM_S)
        calm.stop.set()
        calm.join()
        log("waiting for the server's idle optimise to start (statuses only meanwhile)")
        client = HttpClient(url, key, pause_s)
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
    statuses = sorted({s for *_, s in calm.done + client.done})
    row: dict[str, Any] = {
        "mode": "api_child",
        "optimize_s": round(ended - started, 1),
        "http_statuses": statuses,
        "search_before": summary([e - s for k, s, e, _ in calm.done if k == "search"]),
    }
    # the flush and copy come just before the new folder shows: 2 s of margin for statuses
    row["status_during"] = summary(
        [e - s for k, s, e, _ in client.done if k == "status" and e > started - 2 and s < ended]
    )
    row["search_during"] = summary(
        [e - s for k, s, e, _ in client.done if k == "search" and e > started and s < ended]
    )
    row["search_after"] = summary(
        [e - s for k, s, e, _ in client.done if k == "search" and s >= ended]
    )
    return row
