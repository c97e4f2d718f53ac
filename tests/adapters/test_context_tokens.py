"""Context packing of real chunked text, counted with the real Qwen3 counter."""

from __future__ import annotations

import random

import pytest

from pipelines.chunking import chunk_pages, document_text
from pipelines.context import Budget, pack_context, pack_document
from pipelines.models import Chunk, Page, ScoredChunk
from services.adapters.tokens import QwenTokenCounter, load_token_counter
from tests.devset import DEVSET

CHINESE = (
    "第{n}条 违约责任。甲方未按期支付合同价款的,每逾期一日,应按未付金额的万分之五向乙方支付违约金;"
    "逾期超过三十日的,乙方有权解除本合同。"
    "2024 年末,本集团负债总额 52,744.28 亿元,较上年末增长 3.1%。"
)
INSTRUCTIONS = "Answer the question from the documents. Say so when the answer is not there."


@pytest.fixture(scope="module")
def counter() -> QwenTokenCounter:
    return load_token_counter()


def pages_of(text: str, size: int = 3000) -> list[Page]:
    paragraphs, pages, current = text.split("\n\n"), [], ""
    for paragraph in paragraphs:
        if current and len(current) + len(paragraph) > size:
            pages.append(Page(number=len(pages) + 1, text=current))
            current = ""
        current = f"{current}\n\n{paragraph}" if current else paragraph
    if current:
        pages.append(Page(number=len(pages) + 1, text=current))
    return pages


@pytest.fixture(scope="module")
def documents(counter: QwenTokenCounter) -> dict[str, tuple[list[Page], list[Chunk]]]:
    texts = sorted((DEVSET / "cuad" / "full_contract_txt").glob("*.txt"))
    english = next(
        (t for p in texts if len(t := p.read_text(encoding="utf-8", errors="replace")) > 40_000),
        None,
    )
    if english is None:
        pytest.skip("no CUAD contract text in the dev set")
    chinese = "\n\n".join(CHINESE.format(n=n) for n in range(1, 120))
    found = {}
    for document_id, text in (("en-contract", english), ("zh-report", chinese)):
        pages = pages_of(text)
        found[document_id] = (pages, chunk_pages(document_id, pages, counter))
    return found


@pytest.mark.parametrize("limit", [1_200, 3_000, 8_000, 28_672])
def test_packed_prompt_fits_the_budget_counted_exactly(
    counter: QwenTokenCounter, documents: dict[str, tuple[list[Page], list[Chunk]]], limit: int
) -> None:
    rng = random.Random(limit)
    candidates = [
        ScoredChunk(chunk=chunk, score=rng.random())
        for _, chunks in documents.values()
        for chunk in chunks
    ]
    budget = Budget(max_model_len=32_768, max_output_tokens=4_096, max_prompt_tokens=limit)
    packed = pack_context(
        INSTRUCTIONS,
        candidates,
        "谁承担违约责任? Who pays damages?",
        counter=counter,
        budget=budget,
    )
    assert packed.prompt_tokens == counter.count(packed.prompt) <= limit
    assert packed.chunks
    if limit < 28_672:
        assert packed.dropped > 0
        assert packed.prompt_tokens > limit * 0.8  # the budget is used, not wasted
    reference = load_token_counter(prefer="tokenizers")
    assert reference.count(packed.prompt) == packed.prompt_tokens


def test_long_documents_split_into_parts_that_fit_and_cover_the_text(
    counter: QwenTokenCounter, documents: dict[str, tuple[list[Page], list[Chunk]]]
) -> None:
    budget = Budget(max_model_len=4_096, max_output_tokens=1_024, max_prompt_tokens=3_072)
    for pages, chunks in documents.values():
        parts = pack_document(
            INSTRUCTIONS,
            chunks,
            "Summarise the document.",
            counter=counter,
            budget=budget,
            title="doc.pdf",
        )
        assert len(parts) > 1
        text = document_text(pages)
        shown = [c for part in parts for c in part.chunks]
        for part in parts:
            assert part.prompt_tokens == counter.count(part.prompt) <= budget.prompt_limit
        for before, after in zip(shown, shown[1:], strict=False):
            assert before.char_end <= after.char_start
            assert text[before.char_end : after.char_start].strip() == ""  # nothing lost
        for chunk in shown:
            assert text[chunk.char_start : chunk.char_end] == chunk.text
        assert shown[0].char_start == chunks[0].char_start
        assert shown[-1].char_end == chunks[-1].char_end
