"""llama.cpp's `llama-server --embedding --pooling mean` with all-MiniLM-L6-v2 in GGUF
(`embedding_assets` beside this module) on loopback: a real OpenAI `/v1/embeddings` API for
tests and local measurements, the same route vLLM serves in production.

Same lifecycle as `llm_server` beside it: own process group, SIGKILL when the starting thread
dies, stopped at exit. The context is 512 tokens per sequence (BERT's positions); one ubatch
holds a whole sequence (a non-causal model sees all of it at once).

CLI (`python -m services.runtime.local_models.embedding_server ...`): `prepare` builds
llama-server and converts the model (`make embedding-model`); `serve` runs it in the
foreground and prints the base URL; `bench [--chunks 500] [--batch-size 32]` prints chunks/s
of `HttpEmbedder` against this server and of sentence-transformers in-process on the same
dev-set chunks (CUAD contracts cut as ingestion does, 128 tokens), and their cosine agreement.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from pipelines.errors import BackendUnavailable
from pipelines.ports import Embedder
from services.runtime.local_models.embedding_assets import (
    EMBEDDING_NAME,
    prepare_embedding_model,
)
from services.runtime.local_models.llm_server import (
    LlamaServer,
    prepare_command,
    serve_until_interrupted,
)
from services.settings import Settings

SEQUENCE_TOKENS = 512  # all-MiniLM-L6-v2's position embeddings


class LocalEmbeddingServer(LlamaServer):
    """`llama-server --embedding --pooling mean` with all-MiniLM-L6-v2; `parallel` sequences
    at once, each up to 512 tokens."""

    log_prefix = "llama-embed"
    unavailable = BackendUnavailable

    def __init__(self, cache_dir: Path, *, parallel: int = 4, threads: int = 2) -> None:
        super().__init__(cache_dir, model_name=EMBEDDING_NAME, threads=threads)
        self.parallel = parallel

    def model_path(self) -> Path:
        return prepare_embedding_model(self.cache_dir)

    def arguments(self) -> list[str]:
        ctx = str(SEQUENCE_TOKENS * self.parallel)
        return [
            "--embedding", "--pooling", "mean", "-c", ctx, "-b", ctx,
            "-ub", str(SEQUENCE_TOKENS), "--parallel", str(self.parallel),
        ]  # fmt: skip


def devset_chunks(count: int, max_tokens: int = 128) -> list[str]:
    """The first `count` chunks of the dev set's CUAD contracts (text files), cut as
    ingestion cuts them (`chunking.max_tokens` 128, no overlap)."""
    import json

    from pipelines.chunking import chunk_pages
    from pipelines.models import Page
    from services.adapters.tokens import load_token_counter

    devset = Path(os.environ.get("DOCSIGHT_DEVSET", Path(__file__).resolve().parents[3].parent
                                 / "shared" / "data" / "devset"))  # fmt: skip
    annotations = devset / "cuad_annotations.jsonl"
    if not annotations.is_file():
        raise SystemExit(f"no dev set at {devset} (set DOCSIGHT_DEVSET)")
    counter = load_token_counter()
    texts: list[str] = []
    for line in annotations.read_text().splitlines():
        record = json.loads(line)
        text = (devset / "cuad" / record["txt_path"]).read_text(errors="replace")
        pages = [Page(number=1, text=text)]
        chunks = chunk_pages("bench", pages, counter, max_tokens=max_tokens, overlap_tokens=0)
        texts.extend(chunk.text for chunk in chunks if chunk.text.strip())
        if len(texts) >= count:
            break
    return texts[:count]


def _bench(server: LocalEmbeddingServer, count: int, batch_size: int, rounds: int) -> None:
    import numpy as np

    from services.adapters.embedder_http import HttpEmbedder
    from services.adapters.embedder_st import SentenceTransformerEmbedder

    texts = devset_chunks(count)
    words = statistics.mean(len(t.split()) for t in texts)
    assert server.base_url is not None
    http = HttpEmbedder(server.base_url, server.model_name, batch_size=batch_size, timeout_s=600)
    st = SentenceTransformerEmbedder(EMBEDDING_NAME, device="cpu", batch_size=batch_size)
    embedders: dict[str, Embedder] = {"http (llama-server)": http, "sentence-transformers": st}
    times: dict[str, list[float]] = {name: [] for name in embedders}
    results = {}
    for embedder in embedders.values():
        embedder.embed_documents(texts[:batch_size])  # warm-up
    for _ in range(rounds):  # interleaved: both see the same load from other work
        for name, embedder in embedders.items():
            started = time.perf_counter()
            results[name] = np.array(embedder.embed_documents(texts))
            times[name].append(time.perf_counter() - started)
    for name, seconds in times.items():
        print(
            f"{name}: {len(texts)} chunks of ~{words:.0f} words, batch {batch_size}: "
            f"{len(texts) / min(seconds):.0f} chunks/s (best of {rounds}; "
            f"median {len(texts) / statistics.median(seconds):.0f})"
        )
    http.close()
    cosines = (results["http (llama-server)"] * results["sentence-transformers"]).sum(axis=1)
    print(
        f"cosine http vs sentence-transformers: min {cosines.min():.5f}, "
        f"median {float(np.median(cosines)):.6f}; load {os.getloadavg()[0]:.2f}"
    )


def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.runtime.local_models.embedding_server"
    )
    parser.add_argument("command", choices=["prepare", "serve", "bench"])
    parser.add_argument("--chunks", type=int, default=500)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    cache_dir = Settings().llm.cache_dir
    if args.command == "prepare":
        return prepare_command(
            "the local embedding server",
            "embedding model",
            lambda: prepare_embedding_model(cache_dir),
            cache_dir,
        )
    with LocalEmbeddingServer(cache_dir, threads=args.threads) as server:
        if args.command == "bench":
            _bench(server, args.chunks, args.batch_size, args.rounds)
        else:
            serve_until_interrupted(server)
    return 0


if __name__ == "__main__":
    sys.exit(cli(sys.argv[1:]))
