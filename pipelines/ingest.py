"""Ingestion stages: parse -> chunk -> embed -> index, one function a stage.

Workers call the stages separately (parse+chunk in one task, embed+index in another);
`ingest_document` runs them all in one go for the CLI and the benchmarks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pipelines.chunking import chunk_pages
from pipelines.models import Chunk, IndexedChunk, ParsedDocument
from pipelines.ports import Embedder, PageProgress, PdfParser, TokenCounter, VectorIndex
from pipelines.sparse import encode_sparse

ChunkProgress = Callable[[int, int], None]
"""Called as on_chunks(chunks_done, chunks_total) while chunks are embedded and indexed."""


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
    max_tokens: int = 512,
    overlap_tokens: int = 64,
) -> list[Chunk]:
    """Pages -> structure-aware, token-budgeted chunks."""
    return chunk_pages(
        document_id, parsed.pages, counter, max_tokens=max_tokens, overlap_tokens=overlap_tokens
    )


def embed_and_index_stage(
    tenant: str,
    chunks: Sequence[Chunk],
    embedder: Embedder,
    index: VectorIndex,
    *,
    batch_size: int = 64,
    on_chunks: ChunkProgress | None = None,
) -> int:
    """Embed chunks batch by batch and upsert them with their sparse vectors.

    Idempotent: point ids derive from document id and chunk number, so a re-run
    replaces the same points. Returns the number of chunks indexed.
    """
    total = len(chunks)
    done = 0
    for start in range(0, total, batch_size):
        batch = chunks[start : start + batch_size]
        dense = embedder.embed_documents([chunk.text for chunk in batch])
        index.upsert(
            [
                IndexedChunk(
                    tenant=tenant, chunk=chunk, dense=vector, sparse=encode_sparse(chunk.text)
                )
                for chunk, vector in zip(batch, dense, strict=True)
            ]
        )
        done += len(batch)
        if on_chunks is not None:
            on_chunks(done, total)
    return done


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
    max_tokens: int = 512,
    overlap_tokens: int = 64,
) -> list[Chunk]:
    """Run every stage on one document; returns its chunks (already indexed)."""
    parsed = parse_stage(parser, data, password=password)
    chunks = chunk_stage(
        document_id, parsed, counter, max_tokens=max_tokens, overlap_tokens=overlap_tokens
    )
    embed_and_index_stage(tenant, chunks, embedder, index)
    return chunks
