"""The two baselines of benchmarks.ingest, run in the benchmark's own process.

- langchain: the tutorial pipeline (`benchmarks.langchain_baseline`: PyPDFLoader ->
  RecursiveCharacterTextSplitter(1000, 200) -> QdrantVectorStore on qdrant-client local
  mode on disk), embedding through the same embedder object, same batch size.
- raw: `embed_documents` on exactly the texts the service embeds, in batches of the
  service's batch size, nothing else. The texts are made offline, before any clock, by the
  service's own functions in the order `DocumentService.run_parse` / `run_index` call them:
  `parse_stage` -> `chunk_stage` (settings.chunking) -> `contextualise` (title: the file
  name's stem) -> `running_lines` -> `indexed_text`.

langchain_baseline is imported lazily: the PDF parser's child processes re-import the main
module, and LangChain there would add seconds to every parse.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.settings import Settings


@dataclass
class BaselineRun:
    pages: int
    chunks: int
    seconds: float
    cpu_s: float = 0.0
    """CPU seconds of this process (all its threads) during the run."""


def service_texts(pdfs: Sequence[Path], settings: Settings) -> tuple[list[str], int]:
    """(the indexed texts of every chunk the service makes of `pdfs`, their pages)."""
    from pipelines.ingest import (
        chunk_stage,
        contextualise,
        indexed_text,
        parse_stage,
        running_lines,
    )
    from services.adapters.pdf import Pypdfium2Parser
    from services.adapters.tokens import load_token_counter

    parser = Pypdfium2Parser(
        max_pages=settings.parser.max_pages,
        page_timeout_s=settings.parser.page_timeout_s,
        total_timeout_s=settings.parser.total_timeout_s,
        memory_limit_mb=settings.parser.memory_limit_mb,
        ocr=settings.parser.ocr,
        ocr_languages=settings.parser.ocr_languages,
    )
    counter = load_token_counter()
    texts: list[str] = []
    pages = 0
    for n, pdf in enumerate(pdfs):
        parsed = parse_stage(parser, pdf.read_bytes())
        chunks = chunk_stage(
            f"doc-{n:04d}",
            parsed,
            counter,
            max_tokens=settings.chunking.max_tokens,
            overlap_tokens=settings.chunking.overlap_tokens,
        )
        chunks = contextualise(chunks, pdf.stem)
        running = running_lines(chunks)
        texts.extend(indexed_text(chunk, running) for chunk in chunks)
        pages += parsed.page_count
    return texts, pages


def run_raw(embedder: Any, texts: Sequence[str], pages: int, batch_size: int) -> BaselineRun:
    """Seconds to embed `texts` in batches of `batch_size`, nothing else."""
    cpu, start = time.process_time(), time.perf_counter()
    for first in range(0, len(texts), batch_size):
        embedder.embed_documents(texts[first : first + batch_size])
    seconds = time.perf_counter() - start
    return BaselineRun(pages, len(texts), seconds, time.process_time() - cpu)


def run_langchain(
    pdfs: Sequence[Path], embedder: Any, folder: Path, batch_size: int
) -> BaselineRun:
    """The tutorial pipeline end to end into a fresh on-disk local Qdrant store in `folder`."""
    from benchmarks import langchain_baseline as lc

    pages = chunks = 0
    cpu, start = time.process_time(), time.perf_counter()
    store = lc.open_store(folder, lc.EmbedderAsLangChain(embedder), int(embedder.dimension))
    for pdf in pdfs:
        loaded = lc.load_pages(pdf)
        splits = lc.split_pages(loaded)
        if splits:
            store.add_documents(splits, batch_size=batch_size)
        pages += len(loaded)
        chunks += len(splits)
    lc.close_store(store)
    seconds = time.perf_counter() - start
    return BaselineRun(pages, chunks, seconds, time.process_time() - cpu)
