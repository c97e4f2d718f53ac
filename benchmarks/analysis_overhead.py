"""Overhead outside the LLM per question: retrieve (embed + hybrid search + neighbours) + pack.

Index: the embedded qdrant-edge (`EdgeIndex`, not optimised, as the service runs it) with
`--chunks` synthetic chunks: random unit dense vectors of the embedder's dimension,
~300-word passages of the dev set's CUAD .txt files (cycled) as text and sparse vectors,
50 chunks a document with consecutive chunks overlapping, in one tenant (every query
filters on it and sees all points). Neighbours come from the real metadata store
(`SqlStore` on SQLite holding the same chunks). The query is embedded by the service's
embedder (`--embedder`, default the multilingual USE); prompts are counted with the real
Qwen3 counter and packed into the production budget (32,768 window, 28,672 prompt, 4,096
answer). `total` is a question over all the tenant's documents (the dense search scans
all points: the index is not optimised), `total_one_doc` one restricted to one document.
Target: p95 under 100 ms at 100k chunks. Ends with one JSON object.

    .venv/bin/python benchmarks/analysis_overhead.py            # 100k chunks, 200 questions
    .venv/bin/python benchmarks/analysis_overhead.py --quick    # 10k chunks, 30 questions
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import emit_json, force_offline, load_our_embedder, log, make_parser  # noqa: E402
from benchmarks.search import QUERIES, passages  # noqa: E402
from pipelines.context import Budget, pack_context  # noqa: E402
from pipelines.models import Chunk, IndexedChunk, ScoredChunk, SparseVector  # noqa: E402
from pipelines.retrieval import retrieve_for_analysis  # noqa: E402
from pipelines.sparse import encode_sparse  # noqa: E402
from services.adapters.qdrant_edge import EdgeIndex  # noqa: E402
from services.adapters.store import SqlStore  # noqa: E402
from services.adapters.tokens import load_token_counter  # noqa: E402

TENANT = "t1"
PER_DOCUMENT = 50
OVERLAP_CHARS = 300
BUDGET = Budget(max_model_len=32_768, max_output_tokens=4_096, max_prompt_tokens=28_672)
INSTRUCTIONS = "Answer the question from the documents only, citing every claim."


class Clock:
    """Wraps a callable and adds its run time to a per-question total."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def wrap(self, fn: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started

        return timed


def synthetic_chunks(
    size: int, dim: int, texts: Sequence[str], sparse: Sequence[SparseVector]
) -> Iterator[list[IndexedChunk]]:
    """Batches of one document's chunks each: random unit vectors, cycled real text."""
    rng = np.random.default_rng(0)
    for first in range(0, size, PER_DOCUMENT):
        count = min(PER_DOCUMENT, size - first)
        dense = rng.standard_normal((count, dim), dtype=np.float32)
        dense /= np.linalg.norm(dense, axis=1, keepdims=True)
        items, start = [], 0
        for number, vector in enumerate(dense.tolist()):
            text = texts[(first + number) % len(texts)]
            chunk = Chunk(
                document_id=f"doc-{first // PER_DOCUMENT:06d}",
                number=number,
                text=text,
                page_start=number // 2 + 1,
                page_end=number // 2 + 1,
                char_start=start,
                char_end=start + len(text),
                token_count=len(text) // 5,
            )
            start += max(1, len(text) - OVERLAP_CHARS)
            sparse_vector = sparse[(first + number) % len(sparse)]
            items.append(IndexedChunk(tenant=TENANT, chunk=chunk, dense=vector,
                                      sparse=sparse_vector))
        yield items


def percentiles(values: Sequence[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 2),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 2),
    }


def main() -> None:
    parser = make_parser(__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--hits", type=int, default=10, help="hybrid hits before neighbours")
    args = parser.parse_args()
    if args.quick:
        args.chunks, args.questions = min(args.chunks, 10_000), min(args.questions, 30)
    force_offline()
    embedder = load_our_embedder(args.embedder, args.model, args.batch_size)
    counter = load_token_counter()
    texts = passages(args.data.resolve())
    sparse = [encode_sparse(text) for text in texts]
    log(f"{len(texts)} passages; {args.chunks} chunks of dim {embedder.dimension}")

    with tempfile.TemporaryDirectory(prefix="bench-analysis-") as folder:
        index = EdgeIndex(Path(folder) / "index", embedder.dimension)
        store = SqlStore(f"sqlite:///{Path(folder) / 'store.db'}")
        started = time.perf_counter()
        for items in synthetic_chunks(args.chunks, embedder.dimension, texts, sparse):
            index.upsert(items)
            store.save_chunks(items[0].chunk.document_id, [item.chunk for item in items])
        load_s = time.perf_counter() - started
        log(f"loaded in {load_s:.1f} s")

        embed, search, neighbours = Clock(), Clock(), Clock()
        embedder.embed_query = embed.wrap(embedder.embed_query)
        index.search = search.wrap(index.search)
        store.get_chunks = neighbours.wrap(store.get_chunks)
        rows: dict[str, list[float]] = {k: [] for k in ("total", "embed", "search",
                                                        "neighbours", "pack", "total_one_doc")}
        documents = -(-args.chunks // PER_DOCUMENT)
        sizes: list[tuple[int, int, int]] = []
        for n in range(args.questions + 3):
            question = f"{QUERIES[n % len(QUERIES)]}?"
            for clock in (embed, search, neighbours):
                clock.seconds = 0.0
            started = time.perf_counter()
            candidates: list[ScoredChunk] = retrieve_for_analysis(
                question, tenant=TENANT, embedder=embedder, index=index, chunks=store,
                limit=args.hits,
            )
            packed_at = time.perf_counter()
            packed = pack_context(INSTRUCTIONS, candidates, question, counter=counter,
                                  budget=BUDGET)
            ended = time.perf_counter()
            if n < 3:  # warm-up
                continue
            rows["total"].append(ended - started)
            rows["embed"].append(embed.seconds)
            rows["search"].append(search.seconds)
            rows["neighbours"].append(neighbours.seconds)
            rows["pack"].append(ended - packed_at)
            one = [f"doc-{(n * 7919) % documents:06d}"]
            started = time.perf_counter()
            pack_context(INSTRUCTIONS, retrieve_for_analysis(
                question, tenant=TENANT, embedder=embedder, index=index, chunks=store,
                limit=args.hits, document_ids=one,
            ), question, counter=counter, budget=BUDGET)
            rows["total_one_doc"].append(time.perf_counter() - started)
            sizes.append((len(candidates), len(packed.chunks), packed.prompt_tokens))
        index.close()
        store.close()

    result = {name: percentiles(values) for name, values in rows.items()}
    for name, figures in result.items():
        print(f"{name:>10}: p50 {figures['p50_ms']:.2f} ms  p95 {figures['p95_ms']:.2f} ms")
    emit_json({
        "benchmark": "analysis_overhead",
        "chunks": args.chunks,
        "questions": args.questions,
        "embedder": embedder.name,
        "token_counter": counter.backend,
        "hits": args.hits,
        "candidates_mean": round(statistics.fmean(s[0] for s in sizes), 1),
        "packed_chunks_mean": round(statistics.fmean(s[1] for s in sizes), 1),
        "prompt_tokens_mean": round(statistics.fmean(s[2] for s in sizes)),
        "load_s": round(load_s, 1),
        "target_p95_ms": 100,
        "meets_target": result["total"]["p95_ms"] < 100,
        **{f"{name}_ms": figures for name, figures in result.items()},
    })


if __name__ == "__main__":
    main()
