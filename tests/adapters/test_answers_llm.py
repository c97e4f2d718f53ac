"""A question on a real CUAD contract answered by the local llama-server (tests/conftest.py)."""

from __future__ import annotations

import re

import pytest

from pipelines.answers import answer_question, pack_question, stream_answer
from pipelines.chunking import chunk_pages
from pipelines.citations import resolve_citations
from pipelines.context import Budget
from pipelines.models import Page, ScoredChunk
from services.adapters.tokens import load_token_counter
from tests.devset import DEVSET
from tests.llm import chat_model

CONTRACT = "VIVINT SOLAR, INC. - NON-COMPETITION AGREEMENT.txt"
QUESTION = "Which companies are the parties to this amendment, and where is each incorporated?"


@pytest.mark.slow
def test_real_answer_cites_only_packed_passages(request: pytest.FixtureRequest) -> None:
    path = DEVSET / "cuad" / "full_contract_txt" / CONTRACT
    if not path.exists():
        pytest.skip(f"{CONTRACT} is not in the dev set")
    try:
        url = request.getfixturevalue("llm_url")
    except pytest.FixtureLookupError:
        pytest.skip("no llm_url fixture: tests/conftest.py does not start the local llama-server")
    counter = load_token_counter()
    texts = [t.strip() for t in re.split(r"\n\s*\d+\s*\n{3,}", path.read_text(encoding="utf-8"))]
    pages = [Page(number=n, text=t) for n, t in enumerate(texts, 1) if t]
    assert len(pages) >= 2
    chunks = chunk_pages("vivint", pages, counter)
    candidates = [ScoredChunk(chunk=c, score=1.0 / (c.number + 1)) for c in chunks]
    budget = Budget(max_model_len=4096, max_output_tokens=200, max_prompt_tokens=3000)
    llm = chat_model(url, request.getfixturevalue("llm_speed"), "local", seed=7, max_tokens=200)
    packed = pack_question(QUESTION, candidates, counter=counter, budget=budget)
    shown = {(c.document_id, c.number) for c in packed.chunks}
    assert shown

    answer = answer_question(
        QUESTION, candidates, llm=llm, counter=counter, budget=budget, cache_salt="tenant-a"
    )
    assert answer.text.strip()
    assert "<think>" not in answer.text
    assert "</think>" not in answer.text
    _, unresolved = resolve_citations(answer.text, packed.citations)
    assert unresolved == []  # every marker left in the text is a packed passage
    for citation in answer.citations:
        assert citation.chunk_numbers
        assert {(citation.document_id, n) for n in citation.chunk_numbers} <= shown
    if answer.found:
        assert "vivint" in answer.text.lower()

    stream = stream_answer(
        QUESTION, candidates, llm=llm, counter=counter, budget=budget, cache_salt="tenant-a"
    )
    text = "".join(stream)
    final = stream.answer()
    assert text == final.text
    assert "<think>" not in text
    assert resolve_citations(text, packed.citations)[1] == []
