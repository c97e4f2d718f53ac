"""Search for prompts: filters, no text twice, overlap removal (fakes only)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from pipelines.models import Chunk, IndexedChunk, ScoredChunk
from pipelines.passages import search_passages
from pipelines.rerank import LexicalReranker
from pipelines.retrieval import remove_overlaps
from pipelines.sparse import encode_sparse
from services.adapters.embedder_fake import HashEmbedder
from services.adapters.index_fake import InMemoryIndex

FILLER = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india"]


def overlapping_chunks(document_id: str, words: Sequence[str]) -> list[Chunk]:
    """One sentence per word; chunk n holds sentences n..n+2 (so consecutive chunks share
    two sentences), with char offsets into the joined document text."""
    sentences = [f"The {word} clause applies." for word in words]
    text = " ".join(sentences)
    starts = [text.index(sentence) for sentence in sentences]
    chunks = []
    for number in range(len(sentences) - 2):
        start = starts[number]
        end = starts[number + 2] + len(sentences[number + 2])
        chunks.append(
            Chunk(
                document_id=document_id,
                number=number,
                text=text[start:end],
                page_start=number + 1,
                page_end=number + 1,
                char_start=start,
                char_end=end,
                token_count=12,
            )
        )
    return chunks


class DictChunks:
    """ChunkSource over a dict."""

    def __init__(self, chunks: Sequence[Chunk]) -> None:
        self.by_key = {(c.document_id, c.number): c for c in chunks}

    def get_chunks(self, document_id: str, numbers: Sequence[int]) -> list[Chunk]:
        found = [self.by_key.get((document_id, n)) for n in sorted(set(numbers))]
        return [chunk for chunk in found if chunk is not None]


@pytest.fixture
def world() -> tuple[InMemoryIndex, HashEmbedder, DictChunks]:
    embedder = HashEmbedder(64)
    index = InMemoryIndex(64)
    mine = overlapping_chunks("doc-a", [*FILLER[:4], "zeppelin", *FILLER[4:]])
    other = overlapping_chunks("doc-b", FILLER)
    foreign = overlapping_chunks("doc-x", ["zeppelin", *FILLER])
    items = [
        IndexedChunk(
            tenant=tenant,
            chunk=chunk,
            dense=embedder.embed_documents([chunk.text])[0],
            sparse=encode_sparse(chunk.text),
        )
        for tenant, chunks in (("t1", mine), ("t1", other), ("t2", foreign))
        for chunk in chunks
    ]
    index.upsert(items)
    return index, embedder, DictChunks(mine + other + foreign)


def keys(found: Sequence[ScoredChunk]) -> list[tuple[str, int]]:
    return [(s.chunk.document_id, s.chunk.number) for s in found]


def passages(
    world: tuple[InMemoryIndex, HashEmbedder, DictChunks], query: str, **kwargs: object
) -> list[ScoredChunk]:
    index, embedder, chunks = world
    return search_passages(
        query,
        tenant="t1",
        embedder=embedder,
        index=index,  # type: ignore[arg-type]
        chunks=chunks,
        reranker=LexicalReranker(),
        **kwargs,
    )


def test_no_text_is_returned_twice(world: tuple[InMemoryIndex, HashEmbedder, DictChunks]) -> None:
    found = passages(world, "zeppelin clause", limit=6)
    assert len(found) > 3
    for document_id in {s.chunk.document_id for s in found}:
        spans = sorted(
            (s.chunk.char_start, s.chunk.char_end)
            for s in found
            if s.chunk.document_id == document_id
        )
        for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
            assert end <= start, f"overlapping spans in {document_id}: {spans}"
    sentences = [
        sentence for s in found for sentence in s.chunk.text.split(".") if sentence.strip()
    ]
    assert len(sentences) == len(set(sentences))
    assert [s.score for s in found] == sorted((s.score for s in found), reverse=True)


def test_tenant_and_document_filters_hold(
    world: tuple[InMemoryIndex, HashEmbedder, DictChunks],
) -> None:
    found = passages(world, "zeppelin", limit=20)
    assert "zeppelin" in found[0].chunk.text
    assert "doc-x" not in {s.chunk.document_id for s in found}
    only_b = passages(world, "zeppelin", limit=3, document_ids=["doc-b"])
    assert only_b
    assert {s.chunk.document_id for s in only_b} == {"doc-b"}
    assert passages(world, "  ") == []


def test_overlaps_are_trimmed_from_the_lower_scored_chunk() -> None:
    first, second, third = overlapping_chunks("d", FILLER[:5])
    found = remove_overlaps(
        [
            ScoredChunk(chunk=first, score=0.2),
            ScoredChunk(chunk=second, score=0.9),
            ScoredChunk(chunk=second, score=0.1),  # the same chunk twice: best score kept
            ScoredChunk(chunk=third, score=0.5),
        ]
    )
    assert keys(found) == [("d", 1), ("d", 2), ("d", 0)]
    best, middle, low = (s.chunk for s in found)
    assert found[0].score == 0.9
    assert best == second
    assert middle.text == "The echo clause applies."  # third minus what second shows
    assert middle.char_start == second.char_end + 1
    assert low.text == "The alpha clause applies."
    assert low.char_end < second.char_start
    assert low.token_count < first.token_count


def test_a_chunk_wholly_covered_by_better_ones_is_dropped() -> None:
    first, second, third = overlapping_chunks("d", FILLER[:5])
    found = remove_overlaps(
        [
            ScoredChunk(chunk=first, score=0.9),
            ScoredChunk(chunk=third, score=0.8),
            ScoredChunk(chunk=second, score=0.1),
        ]
    )
    assert keys(found) == [("d", 0), ("d", 2)]
