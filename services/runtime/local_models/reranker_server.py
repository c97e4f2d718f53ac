"""llama.cpp's `llama-server --reranking` with the converted reranker (`reranker_assets` beside
this module) on loopback: a real `/rerank` (and `/v1/rerank`) API for tests and local measurements.

The server runs one sequence at a time (`--parallel 1`): the converted model has no
`cls.output` head, and llama.cpp reads a headless model's score at an offset that is right
only for the first sequence of a batch. Same lifecycle as `llm_server` beside it: own
process group, SIGKILL when the starting thread dies, stopped at exit.

CLI (`python -m services.runtime.local_models.reranker_server ...`):
`prepare` builds llama-server and converts the model (`make reranker-model`); `serve` runs
it in the foreground and prints the base URL; `bench [--passages 50] [--queries 5]` prints
milliseconds per query of the lexical reranker and, through `HttpReranker`, of this server,
on CUAD passages of ~100 tokens around a contract's Governing Law clause.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from pathlib import Path

from pipelines.errors import BackendUnavailable
from services.runtime.local_models.llm_server import (
    LlamaServer,
    prepare_command,
    serve_until_interrupted,
)
from services.runtime.local_models.reranker_assets import RERANKER_NAME, prepare_reranker_model
from services.settings import Settings


class LocalRerankServer(LlamaServer):
    """`llama-server --reranking` with the converted model. `ctx` bounds template + query +
    one passage in tokens."""

    log_prefix = "llama-rerank"
    unavailable = BackendUnavailable

    def __init__(self, cache_dir: Path, *, ctx: int = 2048, threads: int = 2) -> None:
        super().__init__(cache_dir, model_name=RERANKER_NAME, threads=threads)
        self.ctx = ctx

    def model_path(self) -> Path:
        return prepare_reranker_model(self.cache_dir)

    def arguments(self) -> list[str]:
        ctx = str(self.ctx)
        return ["--reranking", "-c", ctx, "-b", ctx, "-ub", ctx, "--parallel", "1"]


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
    parser = argparse.ArgumentParser(prog="python -m services.runtime.local_models.reranker_server")
    parser.add_argument("command", choices=["prepare", "serve", "bench"])
    parser.add_argument("--passages", type=int, default=50)
    parser.add_argument("--queries", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    cache_dir = Settings().llm.cache_dir
    if args.command == "prepare":
        return prepare_command(
            "the local reranker", "reranker", lambda: prepare_reranker_model(cache_dir), cache_dir
        )
    if args.command == "bench":
        _bench_lexical(args.passages)
    with LocalRerankServer(cache_dir, threads=args.threads) as server:
        if args.command == "bench":
            _bench(server, args.passages, args.queries)
        else:
            serve_until_interrupted(server)
    return 0


if __name__ == "__main__":
    sys.exit(cli(sys.argv[1:]))
