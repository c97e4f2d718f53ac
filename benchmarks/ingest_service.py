"""Upload-to-ready through the HTTP API of a `docsight serve` subprocess (benchmarks.ingest).

`service_server` starts the API with a fresh data folder and waits until `/ready` answers
200 (store, index, embedder, broker and worker all up: the embedder is loaded by then) and
one search has embedded a query (the model's first call is warm). `upload_and_wait` then
POSTs every PDF at once, one request a file on its own thread, and polls the document list
until each is `ready` or `failed`: the clock runs from the first upload sent to the poll
that saw the last one finished (polled every `POLL_S`, so +-`POLL_S` of resolution).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import REPO_ROOT, log
from services.adapters.embedder_use import THREAD_NAME as EMBED_THREADS

POLL_S = 0.25
"""Seconds between two polls of the document list (4 a second: well under the rate limit)."""
START_TIMEOUT_S = float(os.environ.get("BENCH_START_TIMEOUT_S", "300"))
STALL_S = 180.0
"""A run in which no document's status or progress changed for this long is stopped (its
unfinished documents are counted as failures)."""
BENCH_ENV = {
    "HF_HUB_OFFLINE": "1",
    "PYTHONUNBUFFERED": "1",
    # every upload of the run is received at once (the default, 8 per tenant, answers the
    # rest 429 + Retry-After: 1, which would add whole seconds of client back-off)
    "DOCSIGHT_API__MAX_UPLOADS_PER_TENANT": "0",
    "DOCSIGHT_API__RATE_PER_MINUTE": "0",
    "DOCSIGHT_LOG__LEVEL": "WARNING",
}


@dataclass
class Server:
    url: str
    key: str
    env: dict[str, str]
    folder: Path
    pid: int = 0


def _stat_fields(text: str) -> list[str]:
    """The fields of a /proc `stat` file after the command name (which may hold spaces):
    [1] the parent pid, [11:13] utime and stime, [13:15] the reaped children's, in ticks."""
    return text[text.rindex(")") + 2 :].split()


def _seconds(ticks: list[str]) -> float:
    return sum(int(x) for x in ticks) / os.sysconf("SC_CLK_TCK")


def tree_cpu(root: int) -> tuple[float, float]:
    """(CPU seconds of `root` and its descendants, of `root` alone), user + system from
    /proc, the tree's with reaped children's; 0 where there is no /proc. The difference is
    the child processes' (the PDF parse children)."""
    stats: dict[int, tuple[int, float]] = {}
    own = 0.0
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = entry.read_text()
        except OSError:
            continue
        fields = _stat_fields(text)
        stats[int(entry.parent.name)] = (int(fields[1]), _seconds(fields[11:15]))
        if int(entry.parent.name) == root:
            own = _seconds(fields[11:13])
    tree, total, grew = {root}, 0.0, True
    while grew:
        grew = False
        for pid, (parent, _) in stats.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                grew = True
    for pid in tree:
        total += stats.get(pid, (0, 0.0))[1]
    return total, own


def threads_cpu(pid: int, name: str) -> float:
    """CPU seconds of `pid`'s threads named `name` (their OS name, /proc/<pid>/task/*/comm),
    e.g. `embedder_use.THREAD_NAME`; 0 where there are none."""
    total = 0.0
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            if (task / "comm").read_text().strip() != name:
                continue
            text = (task / "stat").read_text()
        except OSError:  # the thread ended meanwhile
            continue
        total += _seconds(_stat_fields(text)[11:13])
    return total


@dataclass
class ServiceRun:
    """One upload-to-ready measurement."""

    seconds: float
    documents: int
    ready: int
    failed: list[str] = field(default_factory=list)
    """`filename: error_code reason` of each failed or unfinished document."""
    pages: int = 0
    chunks: int = 0
    upload_s: float = 0.0
    """First upload sent -> last upload answered 202."""
    cpu_s: float = 0.0
    """CPU seconds of the server's process tree during the run."""
    cpu_api_s: float = 0.0
    """Of `cpu_s`, the server process's own (API, worker threads, embedder); the rest is
    its child processes' (PDF parsing)."""
    cpu_embedder_s: float = 0.0
    """Of `cpu_api_s`, the in-process embedder's run threads' (USE; 0 for other kinds)."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def server_env(folder: Path, extra: Mapping[str, str]) -> dict[str, str]:
    """The server's environment: this one, the benchmark's settings, a dead LLM port (no
    model server is started: ingestion does not need one), then `extra` (--env)."""
    return (
        dict(os.environ)
        | BENCH_ENV
        | {
            "DOCSIGHT_DATA_DIR": str(folder),
            "DOCSIGHT_API__PORT": str(free_port()),
            "DOCSIGHT_LLM__BASE_URL": f"http://127.0.0.1:{free_port()}/v1",
            "DOCSIGHT_LLM__MAX_RETRIES": "0",
            "DOCSIGHT_LLM__TIMEOUT_S": "5",
        }
        | dict(extra)
    )


@contextmanager
def service_server(folder: Path, env: dict[str, str]) -> Iterator[Server]:
    """`docsight serve` with `env` (see `server_env`), ready and warm; stopped on leaving."""
    folder.mkdir(parents=True, exist_ok=True)
    logfile = folder / "server.log"
    with logfile.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.cli.main", "serve"],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=out,
        )
    url = f"http://127.0.0.1:{env['DOCSIGHT_API__PORT']}"
    try:
        _wait_ready(url, process, logfile)
        server = Server(url, _api_key(env, folder), env, folder, process.pid)
        _warm_up(server)
        yield server
        if process.poll() is not None:
            raise SystemExit("the server died during the run: " + _tail(logfile))
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _tail(logfile: Path) -> str:
    return logfile.read_text(errors="replace")[-3000:] if logfile.exists() else ""


def _wait_ready(url: str, process: subprocess.Popen[bytes], logfile: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    last = ""
    while True:
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"server did not become ready: {last}\n{_tail(logfile)}")
        try:
            response = httpx.get(f"{url}/ready", timeout=5)
            if response.status_code == 200:
                return
            last = response.text
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.3)


def _api_key(env: dict[str, str], folder: Path) -> str:
    """The first key the server wrote, else a new one made with the admin CLI."""
    key_file = folder / "api_key"
    if key_file.exists():
        return key_file.read_text().strip()
    done = subprocess.run(
        [sys.executable, "-m", "services.cli.main", "keys", "create", "--tenant", "bench"]
        + ["--name", "ingest-benchmark"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1].strip()


def _warm_up(server: Server) -> None:
    """Two searches: each embeds its query, so the model's first (slow) calls are done."""
    headers = {"Authorization": f"Bearer {server.key}"}
    for query in ("warm-up query", "预热查询"):
        response = httpx.post(
            f"{server.url}/v1/search",
            json={"query": query, "limit": 1},
            headers=headers,
            timeout=120,
        )
        response.raise_for_status()


def upload_and_wait(server: Server, pdfs: Sequence[Path], timeout_s: float) -> ServiceRun:
    """POST every PDF at once (one request a file), then poll until all are finished."""
    headers = {"Authorization": f"Bearer {server.key}"}
    bodies = [(pdf.name, pdf.read_bytes()) for pdf in pdfs]  # read before the clock
    limits = httpx.Limits(max_connections=len(pdfs) + 1, max_keepalive_connections=len(pdfs) + 1)
    with httpx.Client(base_url=server.url, headers=headers, timeout=600, limits=limits) as client:

        def upload(name: str, body: bytes) -> str:
            files = {"files": (name, body, "application/pdf")}
            response = client.post("/v1/documents", files=files)
            if response.status_code != 202:
                raise SystemExit(f"upload of {name}: {response.status_code} {response.text}")
            accepted = response.json()["accepted"]
            return str(accepted[0]["document"]["id"])

        cpu_start, api_start = tree_cpu(server.pid)
        embed_start = threads_cpu(server.pid, EMBED_THREADS)
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
            ids = list(pool.map(lambda pair: upload(*pair), bodies))
        upload_s = time.perf_counter() - start
        deadline = time.monotonic() + timeout_s
        docs: dict[str, dict[str, Any]] = {}
        seen, moved = "", time.monotonic()
        while time.monotonic() < deadline:
            response = client.get("/v1/documents")
            response.raise_for_status()
            docs = {d["id"]: d for d in response.json()["documents"]}
            if all(docs.get(i, {}).get("status") in ("ready", "failed") for i in ids):
                break
            state = repr(sorted((i, d["status"], d["progress"]) for i, d in docs.items()))
            if state != seen:
                seen, moved = state, time.monotonic()
            elif time.monotonic() - moved > STALL_S:
                log(f"no document moved for {STALL_S:.0f} s: giving up on this run")
                break
            time.sleep(POLL_S)
        seconds = time.perf_counter() - start
        cpu_end, api_end = tree_cpu(server.pid)
        cpu_s, cpu_api_s = cpu_end - cpu_start, api_end - api_start
        cpu_embedder_s = threads_cpu(server.pid, EMBED_THREADS) - embed_start
    finished = [docs[i] for i in ids if docs.get(i, {}).get("status") == "ready"]
    failed = [
        f"{docs.get(i, {}).get('filename', i)}: {docs.get(i, {}).get('status', 'missing')} "
        f"{docs.get(i, {}).get('error_code')} {docs.get(i, {}).get('reason')}"
        for i in ids
        if docs.get(i, {}).get("status") != "ready"
    ]
    for line in failed:
        log(f"not ready: {line}")
    return ServiceRun(
        seconds=seconds,
        documents=len(ids),
        ready=len(finished),
        failed=failed,
        pages=sum(d["progress"]["pages_total"] or 0 for d in finished),
        chunks=sum(d["progress"]["chunks_total"] or 0 for d in finished),
        upload_s=upload_s,
        cpu_s=cpu_s,
        cpu_api_s=cpu_api_s,
        cpu_embedder_s=cpu_embedder_s,
    )
