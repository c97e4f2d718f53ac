"""Ingestion throughput: our pipeline against LangChain's tutorial pipeline, same embedder.

Documents: the dev set's 40 CUAD contracts and the 296-page Chinese annual report
(`--quick`: the 4 smallest contracts and the report's first 30 pages). Three measurements,
one process:

1. ours: read -> `parse_stage` (pypdfium2) -> `chunk_stage` (512 Qwen tokens) ->
   `embed_and_index_stage` into a fresh `EdgeIndex` in a temp folder. The next document is
   parsed and chunked in a worker process (`--prepare process`, the default) while the
   current one is embedded and indexed. A worker *thread* measured slower: its pure-Python
   chunking holds the GIL that torch needs between operators, slowing embedding by ~35%.
   Chunks are embedded in full batches across documents (`embed_and_index_stage` takes
   chunks of several documents; each carries its document id): per-document batches
   (a contract is often 2-12 chunks) measured ~35% slower on CPU.
2. langchain: `PyPDFLoader` -> `RecursiveCharacterTextSplitter(1000, 200)` ->
   `QdrantVectorStore.add_documents` on qdrant-client local mode on disk (see
   `langchain_baseline`), embedding through the very same embedder object.
3. raw embedding: `embed_documents` on our chunk texts in batches of the same size, nothing
   else: `ours_chunks_per_s / raw_embed_chunks_per_s` is the share of our wall time that is
   embedding, so what remains is the cost of everything else.

Timings include opening and closing each store. The model is loaded and warmed up before
any clock starts. The chunk sizes differ (ours ~512 tokens, LangChain 1,000 characters),
so chunks/s are not comparable across pipelines; pages/s is the like-for-like figure.

langchain_baseline is imported lazily: the PDF parser's child processes re-import the main
module, and LangChain there would add seconds to every parse of ours.

Run: `.venv/bin/python -m benchmarks.ingest [--quick] [--embedder KIND] [--data DIR]`
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from benchmarks import common

TENANT = "bench"
QUICK_CONTRACTS = 4
QUICK_REPORT_PAGES = 30
TARGET_OURS_OVER_RAW = 0.85
TARGET_PAGES_SPEEDUP = 3.0


class TimedIndex:
    """Pass-through `VectorIndex` that adds up the seconds spent in `upsert`."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.seconds = 0.0

    def upsert(self, items: Sequence[Any]) -> None:
        start = time.perf_counter()
        self.inner.upsert(items)
        self.seconds += time.perf_counter() - start

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class TimedEmbedder:
    """Pass-through `Embedder` that adds up the seconds spent in `embed_documents`."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.seconds = 0.0
        self.texts = 0

    @property
    def name(self) -> str:
        return str(self.inner.name)

    @property
    def dimension(self) -> int:
        return int(self.inner.dimension)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        start = time.perf_counter()
        vectors: list[list[float]] = self.inner.embed_documents(texts)
        self.seconds += time.perf_counter() - start
        self.texts += len(texts)
        return vectors

    def embed_query(self, text: str) -> list[float]:
        return list(self.inner.embed_query(text))


@dataclass
class Prepared:
    document_id: str
    pages: int
    chunks: list[Any]
    prepare_s: float


@dataclass
class Result:
    pages: int
    chunks: int
    seconds: float
    embed_s: float
    chars_per_chunk: float
    prepare_s: float = 0.0
    upsert_s: float = 0.0

    def row(self, label: str) -> list[object]:
        return [
            label,
            self.pages,
            self.chunks,
            round(self.seconds, 2),
            common.rate(self.pages, self.seconds),
            common.rate(self.chunks, self.seconds),
            round(self.embed_s, 2),
            round(self.chars_per_chunk),
        ]


@lru_cache(maxsize=1)
def _tools() -> tuple[Any, Any]:
    """The parser and token counter, built once per process (also in a pool worker)."""
    from services.adapters.pdf import Pypdfium2Parser
    from services.adapters.tokens import load_token_counter

    return Pypdfium2Parser(), load_token_counter()


def _warm() -> None:
    _tools()


def _prepare(pdf: Path, document_id: str) -> Prepared:
    """Read, parse and chunk one PDF (in this process, a thread or a pool worker)."""
    from pipelines.ingest import chunk_stage, parse_stage

    parser, counter = _tools()
    start = time.perf_counter()
    parsed = parse_stage(parser, pdf.read_bytes())
    chunks = chunk_stage(document_id, parsed, counter)
    return Prepared(document_id, parsed.page_count, chunks, time.perf_counter() - start)


def _executor(mode: str) -> Executor:
    if mode == "process":
        return ProcessPoolExecutor(max_workers=1, mp_context=get_context("forkserver"))
    return ThreadPoolExecutor(max_workers=1)


def run_ours(
    pdfs: Sequence[Path], embedder: Any, folder: Path, batch_size: int, mode: str = "process"
) -> tuple[Result, list[str]]:
    """Our pipeline end to end into a fresh EdgeIndex; returns the result and chunk texts.

    `mode`: "serial" parses, chunks and embeds each document in turn; "thread" / "process"
    parse and chunk the next document in a worker thread / process meanwhile.
    """
    from pipelines.ingest import embed_and_index_stage
    from services.adapters.qdrant_edge import EdgeIndex

    timed = TimedEmbedder(embedder)
    texts: list[str] = []
    pages = 0
    prepare_s = 0.0
    ids = [f"doc-{n:04d}" for n in range(len(pdfs))]
    with _executor(mode) as pool:
        pool.submit(_warm).result()  # imports and tokenizer load, before the clock
        _warm()
        start = time.perf_counter()
        index = TimedIndex(EdgeIndex(folder / "edge", timed.dimension))
        pending: Future[Prepared] | None = None
        waiting: list[Any] = []
        for n, pdf in enumerate(pdfs):
            prepared = _prepare(pdf, ids[n]) if pending is None else pending.result()
            has_next = mode != "serial" and n + 1 < len(pdfs)
            pending = pool.submit(_prepare, pdfs[n + 1], ids[n + 1]) if has_next else None
            waiting.extend(prepared.chunks)  # full batches across documents: see above
            full = len(waiting) // batch_size * batch_size
            if full:
                embed_and_index_stage(TENANT, waiting[:full], timed, index, batch_size=batch_size)
                del waiting[:full]
            pages += prepared.pages
            prepare_s += prepared.prepare_s
            texts.extend(chunk.text for chunk in prepared.chunks)
        embed_and_index_stage(TENANT, waiting, timed, index, batch_size=batch_size)
        index.close()
        seconds = time.perf_counter() - start
    chars = sum(map(len, texts)) / max(1, len(texts))
    return Result(pages, len(texts), seconds, timed.seconds, chars, prepare_s, index.seconds), texts


def run_langchain(pdfs: Sequence[Path], embedder: Any, folder: Path, batch_size: int) -> Result:
    """The tutorial pipeline end to end into a fresh on-disk local Qdrant store."""
    from benchmarks import langchain_baseline as lc

    timed = TimedEmbedder(embedder)
    pages = chunks = 0
    chars = 0
    start = time.perf_counter()
    store = lc.open_store(folder / "langchain", lc.EmbedderAsLangChain(timed), timed.dimension)
    for pdf in pdfs:
        loaded = lc.load_pages(pdf)
        splits = lc.split_pages(loaded)
        if splits:
            store.add_documents(splits, batch_size=batch_size)
        pages += len(loaded)
        chunks += len(splits)
        chars += sum(len(split.page_content) for split in splits)
    lc.close_store(store)
    seconds = time.perf_counter() - start
    return Result(pages, chunks, seconds, timed.seconds, chars / max(1, chunks))


def raw_embed(embedder: Any, texts: Sequence[str], batch_size: int) -> float:
    """Seconds to embed `texts` in batches of `batch_size`, nothing else."""
    start = time.perf_counter()
    for first in range(0, len(texts), batch_size):
        embedder.embed_documents(texts[first : first + batch_size])
    return time.perf_counter() - start


def select_pdfs(data: Path, quick: bool, limit: int | None, folder: Path) -> list[Path]:
    """The CUAD contracts then the Chinese report (its first pages only with --quick)."""
    pdfs = [c.pdf for c in common.pick_contracts(data, quick, limit, QUICK_CONTRACTS)]
    report = data / common.CHINESE_REPORT
    if quick:
        report = common.pdf_prefix(report, QUICK_REPORT_PAGES, folder)
    return [*pdfs, report]


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = common.make_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--prepare",
        choices=["process", "thread", "serial"],
        default="process",
        help="where the next document is parsed and chunked meanwhile",
    )
    args = parser.parse_args(argv)
    common.force_offline()
    from benchmarks import langchain_baseline as lc

    embedder = common.load_our_embedder(args.embedder, args.model, args.batch_size)
    embedder.embed_documents(["warm-up text"] * 8)
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        folder = Path(tmp)
        pdfs = select_pdfs(args.data, args.quick, args.limit, folder)
        common.log(f"ours: {len(pdfs)} documents ...")
        ours, texts = run_ours(pdfs, embedder, folder, args.batch_size, args.prepare)
        common.log(f"raw embedding of our {len(texts)} chunks ...")
        raw_s = raw_embed(embedder, texts, args.batch_size)
        common.log("langchain ...")
        theirs = run_langchain(pdfs, embedder, folder, args.batch_size)

    raw_rate = common.rate(len(texts), raw_s)
    ours_over_raw = round(ours.chunks / ours.seconds / (len(texts) / raw_s), 3)
    speedup = round((ours.pages / ours.seconds) / (theirs.pages / theirs.seconds), 2)
    print(
        f"embedder: {embedder.name}, batch {args.batch_size}; "
        f"{len(pdfs)} documents; langchain store: {lc.STORE_MODE}"
    )
    common.print_table(
        ["pipeline", "pages", "chunks", "seconds", "pages/s", "chunks/s", "embed s", "chars/chunk"],
        [
            ours.row("ours"),
            theirs.row("langchain"),
            ["raw embed (our chunks)", "", len(texts), round(raw_s, 2), "", raw_rate, "", ""],
        ],
    )
    print(
        f"ours, seconds: parse+chunk {ours.prepare_s:.2f} ({args.prepare}), "
        f"embed {ours.embed_s:.2f}, sparse+upsert+rest "
        f"{ours.seconds - ours.embed_s - ours.upsert_s:.2f} of which upsert {ours.upsert_s:.2f}"
    )
    print(
        f"ours/raw-embed chunks/s: {ours_over_raw} (target >= {TARGET_OURS_OVER_RAW}); "
        f"ours/langchain pages/s: {speedup} (target >= {TARGET_PAGES_SPEEDUP})"
    )
    result: dict[str, Any] = {
        "benchmark": "ingest",
        "quick": args.quick,
        "embedder": embedder.name,
        "batch_size": args.batch_size,
        "documents": len(pdfs),
        "prepare": args.prepare,
        "langchain_store": lc.STORE_MODE,
        "pages": ours.pages,
        "langchain_pages": theirs.pages,
        "ours_chunks": ours.chunks,
        "langchain_chunks": theirs.chunks,
        "ours_seconds": round(ours.seconds, 2),
        "ours_embed_seconds": round(ours.embed_s, 2),
        "ours_parse_chunk_seconds": round(ours.prepare_s, 2),
        "ours_upsert_seconds": round(ours.upsert_s, 2),
        "langchain_seconds": round(theirs.seconds, 2),
        "langchain_embed_seconds": round(theirs.embed_s, 2),
        "raw_embed_seconds": round(raw_s, 2),
        "ours_pages_per_s": common.rate(ours.pages, ours.seconds),
        "ours_chunks_per_s": common.rate(ours.chunks, ours.seconds),
        "langchain_pages_per_s": common.rate(theirs.pages, theirs.seconds),
        "langchain_chunks_per_s": common.rate(theirs.chunks, theirs.seconds),
        "raw_embed_chunks_per_s": raw_rate,
        "ours_over_raw_embed": ours_over_raw,
        "ours_over_langchain_pages": speedup,
        "targets_met": {
            "ours_over_raw_embed": ours_over_raw >= TARGET_OURS_OVER_RAW,
            "ours_over_langchain_pages": speedup >= TARGET_PAGES_SPEEDUP,
        },
    }
    common.emit_json(result)
    return result


if __name__ == "__main__":
    main()
