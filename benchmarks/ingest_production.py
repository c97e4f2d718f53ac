"""`benchmarks.ingest --shape production`: upload-to-ready in the production shape on loopback,
and how it scales with the number of ingest worker processes.

Each run starts, before its clock: Redis and PostgreSQL (`tests.servers`, real servers on
loopback, fresh each run), the Qdrant REST stand-in (`tests.qdrant_rest` in a process of its
own: no Qdrant server can be installed on this machine; it serves Qdrant's REST API over
Qdrant's engine, qdrant-edge), `docsight db upgrade`, N `celery -A workers.main worker
--pool threads` processes (as compose's worker-ingest) and the API (`docsight serve`,
worker.embedded=false), all embedding through one `/v1/embeddings` server: `--embed-url`,
else llama-server with all-MiniLM-L6-v2 started by
`services.runtime.local_models.embedding_server` for the whole benchmark. The clock is the
embedded shape's (`benchmarks.ingest_service.upload_and_wait`). Worker counts are run in
an order rotated every repeat.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx

from benchmarks import common
from benchmarks.ingest_service import Server, server_env, service_server, upload_and_wait
from tests.qdrant_rest import free_port
from tests.servers import postgres_server, redis_server, wait_port


def worker_queues() -> str:
    """The ingest queue, and the index queue where the service has one."""
    from workers import names

    return ",".join(q for q in ("ingest", getattr(names, "INDEX_QUEUE", None)) if q)


@contextmanager
def embeddings(url: str | None) -> Iterator[tuple[str, str | None]]:
    """(base url, model name) of the /v1/embeddings server: `url`, or a local llama-server."""
    if url:
        yield url, None
        return
    from services.runtime.local_models.embedding_server import LocalEmbeddingServer
    from services.settings import Settings

    with LocalEmbeddingServer(Settings().llm.cache_dir) as server:
        assert server.base_url is not None
        yield server.base_url, server.model_name


@contextmanager
def qdrant_stand_in(folder: Path) -> Iterator[str]:
    port = free_port()
    with (folder / "qdrant.log").open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.qdrant_rest", "--port", str(port)]
            + ["--folder", str(folder / "qdrant")],
            cwd=common.REPO_ROOT,
            stdout=out,
            stderr=out,
        )
    try:
        wait_port(port, timeout_s=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def workers(env: dict[str, str], count: int, concurrency: int, folder: Path) -> Iterator[None]:
    """`count` external worker processes on the ingest (and index) queues."""
    processes = []
    try:
        for n in range(count):
            with (folder / f"worker-{n}.log").open("ab") as out:
                command = [sys.executable, "-m", "celery", "-A", "workers.main", "worker"]
                command += ["-Q", worker_queues(), "-n", f"ingest{n}@%h", "--pool", "threads"]
                command += ["--concurrency", str(concurrency), "--loglevel", "WARNING"]
                processes.append(
                    subprocess.Popen(
                        command,
                        cwd=common.REPO_ROOT,
                        env=env | {"OMP_THREAD_LIMIT": "1"},
                        stdout=out,
                        stderr=out,
                    )
                )
        yield
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_workers(server: Server, count: int, timeout_s: float = 180) -> None:
    """Until /ready reports `count` workers answering the ping."""
    deadline = time.monotonic() + timeout_s
    detail = ""
    while time.monotonic() < deadline:
        body = httpx.get(f"{server.url}/ready", timeout=10).json()
        detail = body["components"]["worker"]["detail"]
        if detail.startswith(f"{count} worker"):
            return
        time.sleep(0.5)
    raise SystemExit(f"{count} workers did not answer: {detail}")


def warm_up(server: Server, copies: int, pdf: Path, folder: Path) -> None:
    """Ingest `copies` distinct copies of `pdf` before the clock: a worker builds its
    adapters (tokenizer, parser, clients) on its first task. A worker of several threads
    may still take them all: a worker left cold costs its first document ~1-2 s."""
    folder = folder / "warm-up"
    folder.mkdir()
    paths = []
    for n in range(copies):
        path = folder / f"warm-up-{n}.pdf"
        path.write_bytes(pdf.read_bytes() + f"\n%warm-up {uuid.uuid4()}\n".encode())
        paths.append(path)
    run = upload_and_wait(server, paths, 300)
    if run.failed:
        raise SystemExit(f"warm-up documents failed: {run.failed}")


def one_run(
    args: Any, extra_env: dict[str, str], pdfs: list[Path], folder: Path, count: int, embed: Any
) -> dict[str, Any]:
    """Fresh servers, `count` workers, one upload-to-ready measurement."""
    with ExitStack() as stack:
        redis_url = stack.enter_context(redis_server())
        store_url = stack.enter_context(postgres_server())
        folder.mkdir(parents=True)
        qdrant_url = stack.enter_context(qdrant_stand_in(folder))
        env = server_env(folder, {}) | {
            "DOCSIGHT_WORKER__EMBEDDED": "false",
            "DOCSIGHT_BROKER__MODE": "redis",
            "DOCSIGHT_BROKER__URL": redis_url,
            "DOCSIGHT_STORE__URL": store_url,
            "DOCSIGHT_INDEX__MODE": "qdrant",
            "DOCSIGHT_INDEX__URL": qdrant_url,
            "DOCSIGHT_EMBEDDER__KIND": "openai",
            "DOCSIGHT_EMBEDDER__URL": embed[0],
            **({"DOCSIGHT_EMBEDDER__MODEL": embed[1]} if embed[1] else {}),
            "DOCSIGHT_REPORTS__ENABLED": "false",
        }
        env |= extra_env
        subprocess.run(
            [sys.executable, "-m", "services.cli.main", "db", "upgrade"],
            cwd=common.REPO_ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        concurrency = args.worker_concurrency
        stack.enter_context(workers(env, count, concurrency, folder))
        server = stack.enter_context(service_server(folder, env))
        wait_workers(server, count)
        warm_up(server, 2 * count, min(pdfs, key=lambda p: p.stat().st_size), folder)
        before = os.getloadavg()[0]
        run = upload_and_wait(server, pdfs, args.ingest_timeout)
        after = os.getloadavg()[0]
    common.log(f"  {count} workers: {run.seconds:.2f} s, load {before:.1f}")
    return {
        "workers": count,
        "worker_concurrency": concurrency,
        "seconds": round(run.seconds, 2),
        "pages": run.pages,
        "chunks": run.chunks,
        "documents": run.documents,
        "ready": run.ready,
        "failed": run.failed,
        "pages_per_s": round(run.pages / run.seconds, 2) if run.seconds else 0.0,
        "load_before": round(before, 2),
        "load_after": round(after, 2),
    }


def default_concurrency() -> int:
    """Threads of one worker process: worker.concurrency, plus worker.index_concurrency
    where the service has an index queue (that process consumes both)."""
    from services.settings import Settings

    worker = Settings().worker
    extra = getattr(worker, "index_concurrency", 0) if "index" in worker_queues() else 0
    return int(worker.concurrency + extra)


def production(args: Any, extra_env: dict[str, str], pdfs: list[Path], tmp: Path) -> dict[str, Any]:
    """Every worker count of `args.workers`, `args.repeats` times, rotated; the summary."""
    counts = [int(n) for n in args.workers.split(",")]
    args.worker_concurrency = args.worker_concurrency or default_concurrency()
    runs: list[dict[str, Any]] = []
    with embeddings(args.embed_url) as embed:
        common.log(f"embeddings from {embed[0]}")
        for repeat in range(args.repeats):
            order = [counts[(repeat + k) % len(counts)] for k in range(len(counts))]
            common.log(f"repeat {repeat + 1}/{args.repeats}: workers {order}")
            for count in order:
                folder = tmp / f"production-{count}-{repeat}"
                row = one_run(args, extra_env, pdfs, folder, count, embed)
                runs.append(row | {"repeat": repeat})
    per_count = {}
    for count in counts:
        rates = [r["pages_per_s"] for r in runs if r["workers"] == count]
        per_count[str(count)] = {
            "median": round(statistics.median(rates), 2),
            "min": min(rates),
            "max": max(rates),
        }
    base = per_count[str(counts[0])]["median"]
    scaling = {k: round(v["median"] / base, 2) if base else 0.0 for k, v in per_count.items()}
    failures = sum(len(r["failed"]) for r in runs)
    common.print_table(
        ["workers", "pages/s median", "min", "max", f"x {counts[0]} worker(s)"],
        [[k, v["median"], v["min"], v["max"], scaling[k]] for k, v in per_count.items()],
    )
    loads = [x for r in runs for x in (r["load_before"], r["load_after"])]
    print(
        f"embeddings: {embed[0]}; worker threads {args.worker_concurrency}, queues "
        f"{worker_queues()}; load average during runs {min(loads):.1f}-{max(loads):.1f}; "
        f"documents failed or unfinished: {failures} (must be 0)"
    )
    return {
        "shape": "production",
        "embed_url": args.embed_url or "local llama-server (all-MiniLM-L6-v2 GGUF)",
        "worker_concurrency": args.worker_concurrency,
        "worker_queues": worker_queues(),
        "pages_per_s_by_workers": per_count,
        "scaling_over_first": scaling,
        "service_failures": failures,
        "runs": runs,
    }
