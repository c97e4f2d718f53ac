"""Table pages scored as a whole and handed back as the table (fakes only)."""

from __future__ import annotations

import pytest

from pipelines.chunking import document_text
from pipelines.ingest import contextualise, indexed_text
from pipelines.models import Chunk, IndexedChunk, Page, ScoredChunk
from pipelines.passages import SearchOptions, search_passages
from pipelines.rerank import LexicalReranker
from pipelines.sparse import encode_sparse
from pipelines.table_pages import (
    TablePage,
    add_page_rows,
    find_table_pages,
    page_passage,
    page_rows,
    row_share,
    score_rows,
)
from services.adapters.embedder_fake import HashEmbedder
from services.adapters.index_fake import InMemoryIndex
from tests.unit.test_retrieval import DictChunks

# A filing: two pages of prose, the income statement (page 3, one unit a line), prose again.
# The question's period is only in the statement's header row and its metric only in a row
# label: no unit holds both, the page does.
PAGES = [
    [
        "Item 7. Management's Discussion and Analysis",
        "Our airplane deliveries rose as supply chains recovered during the year.",
        "We continue to invest in engineering, services and digital tools.",
    ],
    [
        "Liquidity and capital resources are discussed below.",
        "Operating cash flow improved with customer advances on new orders.",
        "Revenue recognition policies are described in Note 1 of the statements.",
    ],
    [
        "Consolidated Statements of Operations",
        "(Dollars in millions)",
        "Years ended December 31, | 2022 | 2021 | 2020",
        "Sales of products | $55,893 | $51,386 | $47,142",
        "Sales of services | 10,715 | 10,900 | 11,016",
        "Total revenues | 66,608 | 62,286 | 58,158",
        "Cost of products | (53,969) | (49,954) | (54,568)",
        "Cost of services | (9,109) | (9,283) | (9,232)",
        "Total costs and expenses | (63,106) | (59,269) | (63,843)",
    ],
    [
        "Products and services are sold to airlines and governments around the world.",
        "The cost of our products depends on supplier prices and on labour.",
        "Our services business supports fleets in many countries.",
    ],
]
QUESTION = "What was the cost of products in FY2022?"


def filing(document_id: str = "boeing-10k") -> list[Chunk]:
    """One unit a line, offsets exact into `document_text` of the pages."""
    pages = [Page(number=n, text="\n".join(lines)) for n, lines in enumerate(PAGES, start=1)]
    text = document_text(pages)
    chunks: list[Chunk] = []
    position = 0
    for page in pages:
        for line in page.text.splitlines():
            start = text.index(line, position)
            chunks.append(
                Chunk(
                    document_id=document_id,
                    number=len(chunks),
                    text=line,
                    page_start=page.number,
                    page_end=page.number,
                    section_path=["BOEING_2022_10K"],
                    char_start=start,
                    char_end=start + len(line),
                    token_count=max(4, len(line) // 4),
                )
            )
            position = start + len(line)
    return chunks


def test_row_share_tells_a_statement_page_from_prose() -> None:
    assert row_share("\n".join(PAGES[2])) > 0.7
    assert row_share("\n".join(PAGES[0])) == 0.0


@pytest.fixture
def world() -> tuple[InMemoryIndex, HashEmbedder, DictChunks, list[Chunk]]:
    embedder, index = HashEmbedder(64), InMemoryIndex(64)
    chunks = filing()
    index.upsert(
        [
            IndexedChunk(
                tenant="t1",
                chunk=c,
                dense=embedder.embed_documents([indexed_text(c)])[0],
                sparse=encode_sparse(indexed_text(c)),
            )
            for c in contextualise(chunks, "BOEING_2022_10K")
        ]
    )
    return index, embedder, DictChunks(chunks), chunks


def search(
    world: tuple[InMemoryIndex, HashEmbedder, DictChunks, list[Chunk]], options: SearchOptions
) -> list[ScoredChunk]:
    index, embedder, source, _ = world
    return search_passages(
        QUESTION,
        tenant="t1",
        embedder=embedder,
        index=index,
        chunks=source,
        reranker=LexicalReranker(),
        limit=5,
        options=options,
    )


def test_a_figure_question_gets_the_statement_page_as_one_passage(
    world: tuple[InMemoryIndex, HashEmbedder, DictChunks, list[Chunk]],
) -> None:
    best = search(world, SearchOptions(table_pages=True, page_rows=False, page_bonus=0.0))[0].chunk
    assert (best.page_start, best.page_end) == (3, 3)
    # The whole table: caption, the header row with the period, the row with the figure.
    assert best.text.startswith("Consolidated Statements of Operations")
    assert "Years ended December 31, | 2022" in best.text
    assert "Cost of products | (53,969)" in best.text
    # Exact offsets: the passage is the document's own text at its span, rows on their lines.
    text = document_text(
        [Page(number=n, text="\n".join(lines)) for n, lines in enumerate(PAGES, start=1)]
    )
    assert best.char_end - best.char_start == len(best.text)
    assert text[best.char_start : best.char_end].split() == best.text.split()
    assert "\nCost of products | (53,969) | (49,954) | (54,568)\n" in best.text


def test_without_table_pages_the_best_passage_is_a_row_without_its_header(
    world: tuple[InMemoryIndex, HashEmbedder, DictChunks, list[Chunk]],
) -> None:
    found = search(world, SearchOptions(table_pages=False))
    assert not any(
        "Years ended December 31" in hit.chunk.text and "Cost of products" in hit.chunk.text
        for hit in found
    )


def test_no_text_is_returned_twice_with_table_pages(
    world: tuple[InMemoryIndex, HashEmbedder, DictChunks, list[Chunk]],
) -> None:
    found = search(world, SearchOptions(table_pages=True, page_rows=False))
    spans = sorted((hit.chunk.char_start, hit.chunk.char_end) for hit in found)
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:], strict=False))


def test_only_table_pages_are_found_and_a_large_page_is_cut_around_its_best_unit(
    world: tuple[InMemoryIndex, HashEmbedder, DictChunks, list[Chunk]],
) -> None:
    _, _, source, chunks = world
    hits = [ScoredChunk(chunk=c, score=1.0) for c in (chunks[13], chunks[1], chunks[16])]
    pages = find_table_pages(hits, hits, source, min_share=0.5)
    assert [page.page for page in pages] == [3]
    page: TablePage = pages[0]
    assert [u.number for u in page.units] == list(range(6, 15))
    anchor = chunks[13]  # "Cost of services"
    cut = page_passage(page, anchor, max_tokens=anchor.token_count + chunks[12].token_count)
    assert (cut.char_start, cut.char_end) == (chunks[12].char_start, anchor.char_end)
    assert page_passage(page, anchor, max_tokens=10_000).char_start == chunks[6].char_start


def test_by_rows_the_units_of_a_table_page_become_candidates_under_their_table_header(
    world: tuple[InMemoryIndex, HashEmbedder, DictChunks, list[Chunk]],
) -> None:
    _, _, source, chunks = world
    # The first stage found only the statement's caption: its rows come from the page.
    hits = [ScoredChunk(chunk=c, score=1.0) for c in (chunks[6], chunks[1], chunks[16])]
    pages = find_table_pages(hits, hits, source, min_share=0.5)
    rows = page_rows(pages[0])
    assert "Years ended December 31, | 2022" in rows[7].context  # "Cost of services"
    ranked = add_page_rows(
        hits,
        pages,
        score_rows(QUESTION, pages, hits, LexicalReranker()),
        candidates=len(hits),
        prior_weight=4.0,
        bonus=0.0,
        count=20,
    )
    assert {s.chunk.number for s in ranked} == {1, 16, *range(6, 15)}
    assert ranked[0].chunk.text.startswith("Cost of products")


def test_search_by_rows_finds_the_row_with_the_figure(
    world: tuple[InMemoryIndex, HashEmbedder, DictChunks, list[Chunk]],
) -> None:
    found = search(world, SearchOptions(table_pages=True, page_rows=True, parent_tokens=0))
    assert found[0].chunk.text.startswith("Cost of products | (53,969)")


def test_scored_among_its_candidates_a_passage_scores_as_it_would_inside_them() -> None:
    reranker = LexicalReranker()
    passages = ["Cost of products | (53,969)", "Revenue recognition policies.", "Cost of services"]
    alone = reranker.score(QUESTION, passages)
    among = reranker.score_among(QUESTION, passages, background=passages)
    assert among == pytest.approx(alone)
