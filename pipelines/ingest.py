"""Ingestion stages: parse -> chunk -> embed -> index, one function a stage.

Workers call the stages separately (parse+chunk in one task, embed+index in another);
`ingest_document` runs them all in one go for the CLI and the benchmarks.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Sequence

from pipelines.chunking import chunk_pages
from pipelines.models import Chunk, IndexedChunk, ParsedDocument
from pipelines.ports import Embedder, PageProgress, PdfParser, TokenCounter, VectorIndex
from pipelines.sparse import encode_sparse
from pipelines.tables import table_header

ChunkProgress = Callable[[int, int], None]
"""Called as on_chunks(chunks_done, chunks_total) while chunks are embedded and indexed."""

UNIT_TOKENS = 128
"""Chunks are small units (a clause or a few sentences): retrieval scores them and returns
the enclosing clause (`pipelines.passages`). No overlap: units tile the document."""
UNIT_OVERLAP = 0


CONTEXT_LINES = 400
"""Lines of text before a chunk searched for the header of a table it starts inside."""


def contextualise(chunks: Sequence[Chunk], title: str = "") -> list[Chunk]:
    """The document's chunks (in order) with their contextual header set: the document
    title and section path, and for a chunk inside a table the table's caption, header
    row and group label (`pipelines.tables`)."""
    before: list[str] = []
    out: list[Chunk] = []
    for chunk in chunks:
        path = " > ".join(part for part in (title, *chunk.section_path) if part)
        table = table_header(before, chunk.text)
        out.append(chunk.model_copy(update={"context": "\n".join(p for p in (path, table) if p)}))
        before = [*before, *chunk.text.splitlines()][-CONTEXT_LINES:]
    return out


def indexed_text(chunk: Chunk, running: frozenset[str] = frozenset()) -> str:
    """What is embedded and keyword-indexed for a chunk: its contextual header above its
    text, without the document's running headers and footers (`running_lines`). What is
    shown is the chunk's own text."""
    text = chunk.text
    if running:
        text = "\n".join(line for line in text.splitlines() if _line_key(line) not in running)
    return f"{chunk.context}\n{text}" if chunk.context else text


RUNNING_SHARE = 0.2
"""A line printed on at least this share of a document's pages is a running header or
footer ("平安银行股份有限公司 2024 年年度报告", "Table of Contents")."""
_DIGITS = re.compile(r"\d+")


def running_lines(chunks: Sequence[Chunk]) -> frozenset[str]:
    """Lines (digits masked, so page numbers count as one) found on many pages."""
    pages: dict[str, set[int]] = defaultdict(set)
    for chunk in chunks:
        for line in chunk.text.splitlines():
            key = _line_key(line)
            if key:
                pages[key].add(chunk.page_start)
    total = len({chunk.page_start for chunk in chunks})
    floor = max(3, RUNNING_SHARE * total)
    return frozenset(key for key, seen in pages.items() if len(seen) >= floor)


def _line_key(line: str) -> str:
    return _DIGITS.sub("#", " ".join(line.split()))


def parse_stage(
    parser: PdfParser,
    data: bytes,
    *,
    password: str | None = None,
    on_page: PageProgress | None = None,
) -> ParsedDocument:
    """PDF bytes -> pages. Raises an InvalidDocument subclass for bad input."""
    return parser.parse(data, password=password, on_page=on_page)


def chunk_stage(
    document_id: str,
    parsed: ParsedDocument,
    counter: TokenCounter,
    *,
    max_tokens: int = UNIT_TOKENS,
    overlap_tokens: int = UNIT_OVERLAP,
) -> list[Chunk]:
    """Pages -> structure-aware, token-budgeted chunks."""
    return chunk_pages(
        document_id, parsed.pages, counter, max_tokens=max_tokens, overlap_tokens=overlap_tokens
    )


def index_texts(chunks: Sequence[Chunk], title: str = "") -> tuple[list[Chunk], list[str]]:
    """A document's chunks (in order) under their contextual headers, and the text of each
    that is embedded and keyword-indexed (`indexed_text`)."""
    chunks = contextualise(chunks, title)
    running = running_lines(chunks)
    return chunks, [indexed_text(chunk, running) for chunk in chunks]


def index_points(
    tenant: str, chunks: Sequence[Chunk], texts: Sequence[str], dense: Sequence[list[float]]
) -> list[IndexedChunk]:
    """The points of `chunks` (from `index_texts`): dense vectors of their texts and sparse
    vectors encoded here. Point ids derive from document id and chunk number."""
    return [
        IndexedChunk(tenant=tenant, chunk=chunk, dense=vector, sparse=encode_sparse(text))
        for chunk, text, vector in zip(chunks, texts, dense, strict=True)
    ]


def embed_and_index_stage(
    tenant: str,
    chunks: Sequence[Chunk],
    embedder: Embedder,
    index: VectorIndex,
    *,
    batch_size: int = 64,
    on_chunks: ChunkProgress | None = None,
    title: str = "",
) -> int:
    """Embed chunks batch by batch and upsert them with their sparse vectors.

    Idempotent: point ids derive from document id and chunk number, so a re-run
    replaces the same points. Returns the number of chunks indexed. Vectors are of
    `indexed_text` (the chunk under its contextual header: `contextualise`). `chunks` are
    the document's chunks in order. (The service's workers batch across documents
    instead: `services.app.embed_batches`.)
    """
    chunks, texts = index_texts(chunks, title)
    total = len(chunks)
    for start in range(0, total, batch_size):
        batch, batch_texts = chunks[start : start + batch_size], texts[start : start + batch_size]
        dense = embedder.embed_documents(batch_texts)
        index.upsert(index_points(tenant, batch, batch_texts, dense))
        if on_chunks is not None:
            on_chunks(min(start + batch_size, total), total)
    return total


def ingest_document(
    tenant: str,
    document_id: str,
    data: bytes,
    *,
    parser: PdfParser,
    counter: TokenCounter,
    embedder: Embedder,
    index: VectorIndex,
    password: str | None = None,
    max_tokens: int = UNIT_TOKENS,
    overlap_tokens: int = UNIT_OVERLAP,
    title: str = "",
) -> list[Chunk]:
    """Run every stage on one document; returns its chunks (already indexed)."""
    parsed = parse_stage(parser, data, password=password)
    chunks = chunk_stage(
        document_id, parsed, counter, max_tokens=max_tokens, overlap_tokens=overlap_tokens
    )
    embed_and_index_stage(tenant, chunks, embedder, index, title=title)
    return chunks
