"""Load on the embedded deployment over loopback: concurrent uploads, then concurrent searches
and questions; latency percentiles, errors by status, 5xx and lost documents.

Starts `docsight serve` as a subprocess with its own data folder (SQLite, qdrant-edge, the
filesystem broker, the embedded worker; the embedded llama-server unless --no-llm), or
targets --url with --api-key. Phases:

1. `uploads` distinct PDFs POSTed at once (dev-set CUAD contracts; copies get a unique
   `%<uuid>` comment line after %%EOF, still valid PDFs, so every file is new), then waiting
   until every accepted document is `ready` or `failed` with a reason (ingest throughput).
   Lost: accepted but missing, still pending at the deadline, or failed without a reason.
2. `questions` distinct questions asked one after the other to the real local model with
   tiny outputs (llm.max_output_tokens=48, a 2,048-token window): the model's latency.
3. `searches` searches and `cached` repeats of those questions, all at once: the questions
   are answered from the answer cache (checked: `cached` is true), so this measures the
   API, retrieval and the cache under concurrency, not the model.

4. During phase 3, `long_polls` `GET /v1/jobs/{id}?wait=30` from the first tenant on a
   risk job that cannot finish yet, while the searches and questions run as a second
   tenant (its own key) and a monitor calls `/health`: their percentiles show whether one
   tenant's waiting stalls the others (issue 11).

--no-llm points the LLM at a dead port and skips phases 2 and the questions of 3.
Prints a table and ends with one JSON object. --quick: 10 uploads, 40 searches, no model.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import REPO_ROOT, emit_json, force_offline, log, make_parser, print_table

QUESTIONS = [
    "What law governs this agreement?",
    "Who are the parties to the agreement?",
    "How can the agreement be terminated?",
    "What is the term of the agreement?",
]
SEARCHES = [
    "termination for convenience",
    "governing law",
    "liquidated damages",
    "confidentiality",
    "indemnification",
    "payment terms",
    "exclusivity",
    "assignment",
    "renewal term",
    "limitation of liability",
    "audit rights",
    "insurance",
]


@dataclass
class Op:
    """Latencies and statuses of one kind of request."""

    name: str
    seconds: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    wall_s: float = 0.0

    def add(self, seconds: float, status: int) -> None:
        self.seconds.append(seconds)
        self.statuses[status] += 1

    def summary(self) -> dict[str, Any]:
        ok = sum(n for s, n in self.statuses.items() if 200 <= s < 300)
        return {
            "requests": len(self.seconds),
            "ok": ok,
            "errors_by_status": {
                str(s): n for s, n in sorted(self.statuses.items()) if not 200 <= s < 300
            },
            "server_errors": sum(n for s, n in self.statuses.items() if s >= 500 or s == 0),
            "throughput_per_s": round(len(self.seconds) / self.wall_s, 2) if self.wall_s else 0,
            "wall_s": round(self.wall_s, 2),
            **{f"p{q}_s": round(percentile(self.seconds, q), 3) for q in (50, 95, 99)},
            "max_s": round(max(self.seconds, default=0.0), 3),
        }


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(min(rank, len(ordered))) - 1]


def timed(op: Op, call: Callable[[], httpx.Response]) -> httpx.Response | None:
    start = time.perf_counter()
    try:
        response = call()
    except httpx.HTTPError as exc:
        op.add(time.perf_counter() - start, 0)  # status 0: no response (counted as a 5xx)
        log(f"{op.name}: {type(exc).__name__}: {exc}")
        return None
    op.add(time.perf_counter() - start, response.status_code)
    if response.status_code >= 500:
        log(f"{op.name}: {response.status_code} {response.text[:200]}")
    return response


def in_parallel(jobs: Sequence[Callable[[], object]], workers: int) -> float:
    """Run `jobs` at once on `workers` threads; the wall time."""
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for future in [pool.submit(job) for job in jobs]:
            future.result()
    return time.perf_counter() - start


def upload_files(data: Path, count: int) -> list[tuple[str, bytes]]:
    """`count` distinct PDFs: the dev-set contracts (smallest first), then numbered copies
    with a unique comment line after %%EOF."""
    pdfs = sorted(
        (data / "cuad" / "full_contract_pdf").glob("**/*.pdf"),
        key=lambda p: (p.stat().st_size, p.name),
    )
    if not pdfs:
        raise SystemExit(f"no CUAD PDFs under {data}")
    files = []
    for n in range(count):
        source = pdfs[n % len(pdfs)]
        body = source.read_bytes() + f"\n%{uuid.uuid4()}\n".encode()
        files.append((f"{n:03d}-{source.name}", body))
    return files


@contextmanager
def embedded_server(folder: Path, llm: bool) -> Iterator[tuple[str, str | None, str | None]]:
    """`docsight serve` on a free loopback port with its own data folder: (url, the first
    tenant's api key, a second tenant's)."""
    port = free_port()
    env = os.environ | {
        "DOCSIGHT_DATA_DIR": str(folder),
        "DOCSIGHT_API__PORT": str(port),
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
        "DOCSIGHT_LLM__MAX_OUTPUT_TOKENS": "48",
        "DOCSIGHT_LLM__LOCAL_CTX": "2048",
    }
    if not llm:
        env |= {
            "DOCSIGHT_LLM__BASE_URL": f"http://127.0.0.1:{free_port()}/v1",
            "DOCSIGHT_LLM__MAX_RETRIES": "0",
            "DOCSIGHT_LLM__TIMEOUT_S": "5",
        }
    with (folder / "server.log").open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.cli.main", "serve"],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=out,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(
                    "server did not start: " + (folder / "server.log").read_text()[-2000:]
                )
            try:
                if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        key_file = folder / "api_key"
        yield url, key_file.read_text().strip() if key_file.exists() else None, _second_key(env)
        if process.poll() is not None:
            raise SystemExit("the server died during the run")
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


def _second_key(env: dict[str, str]) -> str | None:
    """A key of a second tenant, made with the admin CLI on the server's data folder."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "services.cli.main",
            "keys",
            "create",
            "--tenant",
            "other-tenant",
            "--name",
            "load",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    return lines[-1].strip() if done.returncode == 0 and lines else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_final(client: httpx.Client, ids: Sequence[str], timeout_s: float) -> dict[str, dict]:
    """The caller's documents (by id) once every one of `ids` is ready or failed, or at the
    deadline. Polls the list endpoint (one request a second, well under the rate limit)."""
    deadline = time.monotonic() + timeout_s
    docs: dict[str, dict] = {}
    while time.monotonic() < deadline:
        response = client.get("/v1/documents")
        if response.status_code == 200:
            docs = {d["id"]: d for d in response.json()["documents"]}
            if all(docs.get(i, {}).get("status") in ("ready", "failed") for i in ids):
                break
        time.sleep(1.0)
    return docs


def run(url: str, key: str | None, args: Any, other_key: str | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    other_headers = {"Authorization": f"Bearer {other_key}"} if other_key else headers
    workers = max(args.uploads, args.searches + args.cached + args.long_polls + 1)
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    ops = {
        name: Op(name)
        for name in (
            "upload",
            "question (model)",
            "search",
            "question (cached)",
            "long poll",
            "health",
        )
    }
    with (
        httpx.Client(base_url=url, headers=headers, timeout=600, limits=limits) as client,
        httpx.Client(base_url=url, headers=other_headers, timeout=600, limits=limits) as other,
    ):
        files = upload_files(args.data, args.uploads)
        accepted: list[str] = []

        def upload(name: str, body: bytes) -> None:
            for _ in range(60):  # a 429 (uploads in flight per tenant): as a client would
                response = timed(
                    ops["upload"],
                    lambda: client.post(
                        "/v1/documents", files={"files": (name, body, "application/pdf")}
                    ),
                )
                if response is None or response.status_code != 429:
                    break
                time.sleep(float(response.headers.get("retry-after", "1")))
            if response is not None and response.status_code == 202:
                accepted.extend(a["document"]["id"] for a in response.json()["accepted"])

        log(f"uploading {len(files)} files at once")
        ops["upload"].wall_s = in_parallel(
            [partial(upload, name, body) for name, body in files], args.uploads
        )
        start = time.perf_counter()
        docs = wait_final(client, accepted, args.ingest_timeout)
        ingest_s = time.perf_counter() - start + ops["upload"].wall_s
        states = Counter(docs.get(i, {}).get("status", "missing") for i in accepted)
        lost = [
            i
            for i in accepted
            if i not in docs
            or docs[i]["status"] not in ("ready", "failed")
            or (docs[i]["status"] == "failed" and not docs[i].get("reason"))
        ]
        pages = sum(
            docs[i]["progress"]["pages_total"] or 0
            for i in accepted
            if docs.get(i, {}).get("status") == "ready"
        )
        log(f"ingested: {dict(states)} in {ingest_s:.1f} s")

        questions = QUESTIONS[: args.questions]
        for question in questions:  # the model, one at a time: fills the answer cache
            timed(
                ops["question (model)"],
                partial(client.post, "/v1/questions", json={"question": question}),
            )
        ops["question (model)"].wall_s = sum(ops["question (model)"].seconds)

        cached_flags: list[bool] = []

        if other_key and questions:  # the second tenant's answers: its own cache
            for question in questions:
                other.post("/v1/questions", json={"question": question})

        def ask(question: str) -> None:
            response = timed(
                ops["question (cached)"],
                lambda: other.post("/v1/questions", json={"question": question}),
            )
            if response is not None and response.status_code == 200:
                cached_flags.append(bool(response.json()["cached"]))

        def search(query: str) -> None:
            timed(
                ops["search"], lambda: other.post("/v1/search", json={"query": query, "limit": 10})
            )

        def health() -> None:
            timed(ops["health"], lambda: other.get("/health"))

        job = client.post(f"/v1/documents/{accepted[0]}/risks") if accepted else None
        polls: list[Callable[[], object]] = []
        if job is not None and job.status_code == 202 and args.long_polls:
            job_id = job.json()["id"]
            polls = [
                partial(
                    timed,
                    ops["long poll"],
                    partial(client.get, f"/v1/jobs/{job_id}", params={"wait": 30}),
                )
                for _ in range(args.long_polls)
            ]
        pool = ThreadPoolExecutor(max_workers=max(1, len(polls)))
        waiting = [pool.submit(poll) for poll in polls]
        if polls:
            log(f"{len(polls)} long polls of the first tenant in flight")
            time.sleep(2)

        jobs: list[Callable[[], object]] = [
            partial(search, SEARCHES[n % len(SEARCHES)]) for n in range(args.searches)
        ]
        if questions:
            jobs += [partial(ask, questions[n % len(questions)]) for n in range(args.cached)]
        jobs = [jobs[i] for i in _interleaved(len(jobs), args.searches)]
        log(
            f"{args.searches} searches and {args.cached if questions else 0} cached questions "
            "at once"
        )
        jobs += [health] * max(1, args.searches // 4)
        mixed_s = in_parallel(jobs, len(jobs))
        ops["search"].wall_s = ops["question (cached)"].wall_s = ops["health"].wall_s = mixed_s
        for future in waiting:
            future.result()
        pool.shutdown()
        ops["long poll"].wall_s = sum(ops["long poll"].seconds) / max(1, len(polls))

    summaries = {name: op.summary() for name, op in ops.items() if op.seconds}
    return {
        "operations": summaries,
        "documents": {
            "uploaded": len(files),
            "accepted": len(accepted),
            "states": dict(states),
            "lost": len(lost),
            "lost_ids": lost[:10],
            "pages_ready": pages,
            "ingest_wall_s": round(ingest_s, 1),
            "ingest_docs_per_s": round(states.get("ready", 0) / ingest_s, 3) if ingest_s else 0,
        },
        "questions_cached": sum(cached_flags),
        "questions_not_cached": len(cached_flags) - sum(cached_flags),
        "mixed_wall_s": round(mixed_s, 2),
        "server_errors": sum(s["server_errors"] for s in summaries.values()),
    }


def _interleaved(total: int, searches: int) -> list[int]:
    """Job order spreading the questions among the searches."""
    questions = list(range(searches, total))
    order: list[int] = []
    step = max(1, searches // max(1, len(questions)))
    for n in range(searches):
        order.append(n)
        if questions and (n + 1) % step == 0:
            order.append(questions.pop(0))
    return order + questions


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = make_parser(__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=None, help="50 (quick: 10)")
    parser.add_argument("--searches", type=int, default=None, help="160 (quick: 40)")
    parser.add_argument(
        "--questions", type=int, default=None, help="distinct questions to the model, 4 (quick: 0)"
    )
    parser.add_argument(
        "--cached", type=int, default=40, help="cached questions among the concurrent searches"
    )
    parser.add_argument("--no-llm", action="store_true", help="dead LLM: no questions")
    parser.add_argument(
        "--long-polls",
        type=int,
        default=100,
        help="long polls of the first tenant during the mixed phase",
    )
    parser.add_argument(
        "--other-api-key",
        default=None,
        help="with --url: a second tenant's key for the mixed phase",
    )
    parser.add_argument("--ingest-timeout", type=float, default=1800)
    parser.add_argument("--url", default=None, help="a running deployment instead")
    parser.add_argument("--api-key", default=os.environ.get("DOCSIGHT_API_KEY"))
    args = parser.parse_args(argv)
    force_offline()
    args.uploads = args.uploads or (10 if args.quick else 50)
    args.searches = args.searches or (40 if args.quick else 160)
    no_llm = args.no_llm or args.quick
    if args.questions is None:
        args.questions = 0 if no_llm else len(QUESTIONS)
    args.questions = min(args.questions, len(QUESTIONS))
    if args.quick and args.ingest_timeout == 1800:
        args.ingest_timeout = 120
    started = time.perf_counter()
    if args.url:
        result = run(args.url, args.api_key, args, args.other_api_key)
    else:
        folder = Path(tempfile.mkdtemp(prefix="docsight-load-"))
        try:
            with embedded_server(folder, llm=not no_llm) as (url, key, other_key):
                result = run(url, key, args, other_key)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    rows = [
        [
            name,
            s["requests"],
            s["ok"],
            s["server_errors"],
            s["throughput_per_s"],
            s["p50_s"],
            s["p95_s"],
            s["p99_s"],
            s["max_s"],
            " ".join(f"{k}:{v}" for k, v in s["errors_by_status"].items()) or "-",
        ]
        for name, s in result["operations"].items()
    ]
    print_table(
        ["operation", "n", "2xx", "5xx", "per s", "p50 s", "p95 s", "p99 s", "max s", "errors"],
        rows,
    )
    docs = result["documents"]
    print(
        f"documents: {docs['accepted']}/{docs['uploaded']} accepted, states {docs['states']}, "
        f"lost {docs['lost']}, {docs['pages_ready']} pages ready in {docs['ingest_wall_s']} s "
        f"({docs['ingest_docs_per_s']} docs/s); cached answers {result['questions_cached']}, "
        f"not cached {result['questions_not_cached']}; 5xx {result['server_errors']}"
    )
    result |= {
        "benchmark": "load",
        "quick": args.quick,
        "uploads": args.uploads,
        "searches": args.searches,
        "llm": not no_llm,
        "total_wall_s": round(time.perf_counter() - started, 1),
    }
    emit_json(result)
    return result


if __name__ == "__main__":
    main()
