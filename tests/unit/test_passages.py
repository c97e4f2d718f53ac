"""Search that returns clauses: expansion, reranking, small-to-big (fakes only)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from pipelines.ingest import contextualise, indexed_text
from pipelines.models import Chunk, IndexedChunk, ScoredChunk
from pipelines.passages import SearchOptions, enclose, merge, search_passages
from pipelines.query import plan_query
from pipelines.rerank import LexicalReranker, passage_text, rerank
from pipelines.sparse import encode_sparse
from services.adapters.embedder_fake import HashEmbedder
from services.adapters.index_fake import InMemoryIndex
from tests.unit.test_retrieval import DictChunks

# A contract as clauses of small units: (section heading, unit texts).
CONTRACT = [
    (
        "1. Definitions",
        [
            "Affiliate means any entity controlling a party.",
            "Products means the goods listed in Exhibit A.",
        ],
    ),
    (
        "7. Payment",
        [
            "The Distributor shall pay each invoice within 30 days.",
            "Late payments bear interest at 1.5% per month.",
        ],
    ),
    (
        "13. Governing Law",
        [
            "This Agreement shall be governed by and construed in "
            "accordance with the laws of the State of New York.",
            "The courts of New York County have exclusive jurisdiction.",
        ],
    ),
    (
        "14. Compliance with Laws",
        [
            "Each party shall comply with all applicable laws "
            "and regulations in performing this Agreement."
        ],
    ),
]


def units(document_id: str = "doc-a") -> list[Chunk]:
    """The contract's units with exact offsets into the text (units joined by a space)."""
    chunks: list[Chunk] = []
    position = 0
    for heading, texts in CONTRACT:
        for n, body in enumerate(texts):
            text = f"{heading}\n{body}" if n == 0 else body
            chunks.append(
                Chunk(
                    document_id=document_id,
                    number=len(chunks),
                    text=text,
                    page_start=1 + len(chunks) // 3,
                    page_end=1 + len(chunks) // 3,
                    section_path=["DISTRIBUTION AGREEMENT", heading],
                    char_start=position,
                    char_end=position + len(text),
                    token_count=20,
                )
            )
            position += len(text) + 1
    return chunks


@pytest.fixture
def world() -> tuple[InMemoryIndex, HashEmbedder, DictChunks]:
    embedder = HashEmbedder(64)
    index = InMemoryIndex(64)
    chunks = units("doc-a") + units("doc-b")
    index.upsert(
        [
            IndexedChunk(
                tenant="t1" if c.document_id == "doc-a" else "t2",
                chunk=c,
                dense=embedder.embed_documents([indexed_text(c)])[0],
                sparse=encode_sparse(indexed_text(c)),
            )
            for c in contextualise(chunks)
        ]
    )
    return index, embedder, DictChunks(chunks)


def search(
    world: tuple[InMemoryIndex, HashEmbedder, DictChunks], query: str, **kwargs: object
) -> list[ScoredChunk]:
    index, embedder, chunks = world
    return search_passages(
        query,
        tenant="t1",
        embedder=embedder,
        index=index,
        chunks=chunks,
        reranker=LexicalReranker(),
        **kwargs,
    )  # type: ignore[arg-type]


def test_a_chinese_category_query_finds_the_english_clause_grown_to_the_whole_clause(
    world: tuple[InMemoryIndex, HashEmbedder, DictChunks],
) -> None:
    found = search(world, "适用法律", limit=3)
    best = found[0].chunk
    assert best.section_path[-1] == "13. Governing Law"
    # Both units of the clause, heading first, with exact offsets and the page span.
    assert best.text.startswith("13. Governing Law\n")
    assert "exclusive jurisdiction" in best.text
    assert best.char_end - best.char_start == len(best.text)
    assert all(hit.chunk.document_id == "doc-a" for hit in found)  # tenant filter held


def test_the_reranker_puts_the_governing_law_heading_above_compliance_with_laws(
    world: tuple[InMemoryIndex, HashEmbedder, DictChunks],
) -> None:
    ranked = [hit.chunk.section_path[-1] for hit in search(world, "governing law", limit=4)]
    assert ranked.index("13. Governing Law") < ranked.index("14. Compliance with Laws")


def test_passages_never_repeat_text(
    world: tuple[InMemoryIndex, HashEmbedder, DictChunks],
) -> None:
    found = search(world, "payment invoice interest", limit=10)
    spans = sorted((hit.chunk.char_start, hit.chunk.char_end) for hit in found)
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:], strict=False))


def test_units_only_when_small_to_big_is_off(
    world: tuple[InMemoryIndex, HashEmbedder, DictChunks],
) -> None:
    found = search(world, "governing law", limit=2, options=SearchOptions(parent_tokens=0))
    assert all(hit.chunk.text in {c.text for c in units()} for hit in found)


def test_per_document_keeps_one_passage_a_document() -> None:
    embedder, index = HashEmbedder(64), InMemoryIndex(64)
    chunks = units("doc-a") + units("doc-b")
    index.upsert(
        [
            IndexedChunk(
                tenant="t1",
                chunk=c,
                dense=embedder.embed_documents([c.text])[0],
                sparse=encode_sparse(c.text),
            )
            for c in chunks
        ]
    )
    found = search_passages(
        "governing law new york",
        tenant="t1",
        embedder=embedder,
        index=index,
        chunks=DictChunks(chunks),
        limit=10,
        per_document=1,
    )
    assert sorted(hit.chunk.document_id for hit in found) == ["doc-a", "doc-b"]


def test_enclose_stops_at_the_section_and_the_size_cap() -> None:
    chunks = units()
    around = {c.number: c for c in chunks}
    grown = enclose(chunks[5], around, max_tokens=10_000)
    assert (grown.number, grown.char_end) == (4, chunks[5].char_end)  # clause 13 only
    assert enclose(chunks[5], around, max_tokens=chunks[5].token_count + 5) == chunks[5]


def test_merge_keeps_offsets_exact_over_gaps_and_overlaps() -> None:
    a = Chunk(
        document_id="d",
        number=0,
        text="Alpha beta.",
        page_start=1,
        page_end=1,
        char_start=0,
        char_end=11,
        token_count=3,
    )
    b = a.model_copy(
        update={
            "number": 1,
            "text": "Gamma.",
            "char_start": 13,
            "char_end": 19,
            "page_start": 2,
            "page_end": 2,
        }
    )
    merged = merge([a, b])
    assert merged.text == "Alpha beta.\n\nGamma."
    assert merged.char_end == 19
    assert (merged.page_start, merged.page_end) == (1, 2)
    c = b.model_copy(update={"text": "ta. Gamma", "char_start": 8, "char_end": 17})
    assert merge([a, c]).text == "Alpha beta. Gamma"


def test_exact_terms_of_a_query() -> None:
    plan = plan_query('What did "the Distributor" owe in FY2022, 2024年末 and $1,500?')
    assert {"the distributor", "2022", "2024年末", "$1,500"} <= set(plan.exact)
    assert plan_query("PPNE between FY20 and FY21").exact == ("2020", "2021")
    assert "distributor" in plan.exact


def test_rerank_keeps_every_hit_and_prefers_the_clause_heading() -> None:
    chunks = units()
    hits = [ScoredChunk(chunk=c, score=1.0) for c in chunks]  # first stage: document order
    ranked = rerank("governing law", hits, LexicalReranker(), prior_weight=0.1)
    assert sorted(h.chunk.number for h in ranked) == [c.number for c in chunks]
    assert ranked[0].chunk.section_path[-1] == "13. Governing Law"
    assert passage_text(hits[0]).startswith("DISTRIBUTION AGREEMENT > 1. Definitions\n")


class ReversingReranker:
    """Scores the last candidate best; a cross-encoder's scale: the prior only breaks ties."""

    name = "reversing"
    prior_weight = 0.0

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        return [float(n) for n in range(len(passages))]


def test_each_reranker_weighs_the_first_stage_rank_on_its_own_scale() -> None:
    hits = [ScoredChunk(chunk=c, score=1.0) for c in units()]
    reversed_order = [h.chunk.number for h in rerank("q", hits, ReversingReranker())]
    assert reversed_order == [c.number for c in reversed(units())]
    # The same scores with the lexical reranker's prior (4.0) keep the first stage's order.
    kept = [h.chunk.number for h in rerank("q", hits, ReversingReranker(), prior_weight=40.0)]
    assert kept == [c.number for c in units()]
