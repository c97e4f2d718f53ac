"""llama.cpp's `llama-server --reranking` with the converted reranker (services/reranker_assets.py)
on loopback: a real `/rerank` (and `/v1/rerank`) API for tests and local measurements.

The server runs one sequence at a time (`--parallel 1`): the converted model has no
`cls.output` head, and llama.cpp reads a headless model's score at an offset that is right
only for the first sequence of a batch. Same lifecycle as services/llm_server.py: own process
group, SIGKILL when the starting thread dies, stopped at exit.

CLI (`python -m services.reranker_assets ...` or `python -m services.reranker_server ...`):
`prepare` builds llama-server and converts the model (`make reranker-model`); `serve` runs
it in the foreground and prints the base URL; `bench [--passages 50] [--queries 5]` prints
milliseconds per query of the lexical reranker and, through `HttpReranker`, of this server,
on CUAD passages of ~100 tokens around a contract's Governing Law clause.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

from pipelines.errors import BackendUnavailable, DocsightError
from services.llm_assets import build_llama_server
from services.llm_server import _die_with_parent, _free_port
from services.reranker_assets import RERANKER_NAME, prepare_reranker_model
from services.settings import Settings

_RUNNING: set[LocalRerankServer] = set()


@atexit.register
def _stop_all() -> None:
    for server in list(_RUNNING):
        server.stop()


class LocalRerankServer:
    """`llama-server --reranking` with the converted model on 127.0.0.1; a context manager.
    `ctx` bounds template + query + one passage in tokens."""

    def __init__(self, cache_dir: Path, *, ctx: int = 2048, threads: int = 2) -> None:
        self.cache_dir = cache_dir
        self.ctx = ctx
        self.threads = threads
        self.model_name = RERANKER_NAME
        self.base_url: str | None = None
        self.log_path: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 120, port: int | None = None) -> str:
        """Build or reuse binary and model, start, wait until ready; returns `http://.../v1`."""
        if self.base_url is not None:
            return self.base_url
        binary = build_llama_server(self.cache_dir)
        model = prepare_reranker_model(self.cache_dir)
        port = port or _free_port()
        log_dir = self.cache_dir.resolve() / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"llama-rerank-{port}.log"
        cmd = [
            str(binary), "--reranking", "-m", str(model), "--alias", self.model_name,
            "--host", "127.0.0.1", "--port", str(port), "-c", str(self.ctx),
            "-b", str(self.ctx), "-ub", str(self.ctx), "--parallel", "1",
            "--threads", str(self.threads),
        ]  # fmt: skip
        parent = os.getpid()
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=lambda: _die_with_parent(parent),
            )  # fmt: skip
        _RUNNING.add(self)
        try:
            self._wait_ready(port, timeout_s)
        except BaseException:
            self.stop()
            raise
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self.base_url

    def _wait_ready(self, port: int, timeout_s: float) -> None:
        assert self._process is not None
        assert self.log_path is not None
        deadline = time.monotonic() + timeout_s
        with httpx.Client(timeout=2) as client:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    tail = self.log_path.read_text(errors="replace")[-2000:]
                    raise BackendUnavailable(
                        f"llama-server --reranking exited with {self._process.returncode} "
                        f"while starting; log {self.log_path}:\n{tail}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                        return
                time.sleep(0.1)
        raise BackendUnavailable(f"reranker not ready after {timeout_s:.0f}s; log {self.log_path}")

    def stop(self, grace_s: float = 10) -> None:
        """SIGTERM to the server's process group, SIGKILL after `grace_s`; idempotent."""
        process, self._process = self._process, None
        self.base_url = None
        _RUNNING.discard(self)
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def __enter__(self) -> LocalRerankServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def bench_passages(count: int, words: int = 75) -> tuple[str, list[str], int | None]:
    """A governing-law question and `count` passages of ~`words` words (~100 tokens) cut from
    the dev set's CUAD contracts (one with a Governing Law span); the index of the passage
    holding that span, or None when the dev set is missing (synthetic passages then)."""
    import json

    devset = Path(os.environ.get("DOCSIGHT_DEVSET", Path(__file__).resolve().parents[2]
                                 / "shared" / "data" / "devset"))  # fmt: skip
    query = "Which law governs this agreement?"
    annotations = devset / "cuad_annotations.jsonl"
    if annotations.is_file():
        for line in annotations.read_text().splitlines():
            record = json.loads(line)
            spans = record["labels"].get("Governing Law", {}).get("spans") or []
            text = (devset / "cuad" / record["txt_path"]).read_text(errors="replace")
            if not spans or len(text.split()) < count * words:
                continue
            tokens = list(re.finditer(r"\S+", text))
            passages = [
                text[tokens[i].start() : tokens[min(i + words, len(tokens)) - 1].end()]
                for i in range(0, len(tokens), words)
            ]
            start = spans[0][0]
            gold = next(i for i, m in enumerate(tokens) if m.end() > start) // words
            if gold < len(passages):
                first = max(0, min(gold - count // 2, len(passages) - count))
                return query, passages[first : first + count], gold - first
    filler = "The Supplier shall deliver the goods within thirty days of each purchase order "
    return query, [f"{i}. {filler * 6}" for i in range(count)], None


def _bench_lexical(passages: int) -> None:
    from pipelines.rerank import LexicalReranker

    query, texts, gold = bench_passages(passages)
    lexical = LexicalReranker()
    lexical.score(query, texts)
    times = []
    for _ in range(50):
        started = time.perf_counter()
        scores = lexical.score(query, texts)
        times.append((time.perf_counter() - started) * 1000)
    rank = None if gold is None else 1 + sum(s > scores[gold] for s in scores)
    print(
        f"lexical: {len(texts)} passages, median {statistics.median(times):.1f} ms/query"
        + (f"; the Governing Law passage ranks {rank}/{len(texts)}" if rank else "")
    )


def _bench(server: LocalRerankServer, passages: int, queries: int) -> None:
    from services.adapters.reranker_http import HttpReranker

    query, texts, gold = bench_passages(passages)
    assert server.base_url is not None
    reranker = HttpReranker(server.base_url, server.model_name, timeout_s=600, batch_size=64)
    reranker.score(query, texts[:2])  # warm-up
    times = []
    for _ in range(queries):
        started = time.perf_counter()
        scores = reranker.score(query, texts)
        times.append((time.perf_counter() - started) * 1000)
    reranker.close()
    words = statistics.mean(len(t.split()) for t in texts)
    rank = None if gold is None else 1 + sum(s > scores[gold] for s in scores)
    print(
        f"http ({server.model_name}, llama-server on 127.0.0.1, {server.threads} threads): "
        f"{len(texts)} passages of ~{words:.0f} words, {queries} queries: "
        f"median {statistics.median(times):.0f} ms/query, "
        f"{statistics.median(times) / len(texts):.1f} ms/passage"
        + (f"; the Governing Law passage ranks {rank}/{len(texts)}" if rank else "")
    )


def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.reranker_server")
    parser.add_argument("command", choices=["prepare", "serve", "bench"])
    parser.add_argument("--passages", type=int, default=50)
    parser.add_argument("--queries", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    cache_dir = Settings().llm.cache_dir
    if args.command == "prepare":
        started = time.monotonic()
        try:
            binary = build_llama_server(cache_dir)
            model = prepare_reranker_model(cache_dir)
        except DocsightError as exc:
            print(f"cannot prepare the local reranker: {exc}", file=sys.stderr)
            return 1
        print(f"llama-server: {binary}\nreranker: {model}\n({time.monotonic() - started:.1f}s)")
        return 0
    if args.command == "bench":
        _bench_lexical(args.passages)
    with LocalRerankServer(cache_dir, threads=args.threads) as server:
        if args.command == "bench":
            _bench(server, args.passages, args.queries)
        else:
            print(server.base_url, flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                signal.pause()
    return 0


if __name__ == "__main__":
    sys.exit(cli(sys.argv[1:]))
