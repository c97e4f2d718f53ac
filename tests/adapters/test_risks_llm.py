"""extract_risks against the embedded llama-server on a small real CUAD contract.

The bundled model is tiny: this checks structure and grounding, not the quality of findings.
One request: about 1,000 prompt tokens and at most 256 output tokens: well under a minute on an idle
2-core machine; several minutes when the CPU is shared (0.7 tokens/s was measured then), so
its timeout derives from the session's measured speed (tests/llm.py), not a fixed 300 s.
"""

from __future__ import annotations

from typing import Any

import pytest

from pipelines.chunking import chunk_pages
from pipelines.context import Budget
from pipelines.grounding import normalise
from pipelines.models import Document, Page, ScoredChunk
from pipelines.rerank import LexicalReranker, rerank
from pipelines.risk_candidates import Selection
from pipelines.risk_taxonomy import RiskCategory
from pipelines.risks import RiskReport, extract_risks
from services.adapters.llm_speed import Throughput
from services.adapters.tokens import load_token_counter
from tests.devset import DEVSET
from tests.llm import chat_model

pytestmark = pytest.mark.slow
CONTRACT = (
    DEVSET / "cuad" / "full_contract_txt" / "VIVINT SOLAR, INC. - NON-COMPETITION AGREEMENT.txt"
)


class Recording:
    """The chat model, with the text of each structured request kept."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.prompts = inner, []

    def structured(self, messages: Any, schema: Any, **options: Any) -> Any:
        self.prompts.append("\n".join(str(getattr(m, "content", m)) for m in messages))
        return self.inner.structured(messages, schema, **options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_extract_risks_on_a_real_contract_gives_grounded_findings(
    llm_url: str,
    llm_speed: Throughput,
) -> None:
    if not CONTRACT.exists():
        pytest.skip("dev set not present")
    paragraphs: list[str] = []
    for paragraph in CONTRACT.read_text(encoding="utf-8").split("\n\n"):
        if paragraph.strip() and sum(map(len, paragraphs)) + len(paragraph) < 2500:
            paragraphs.append(paragraph)  # the opening ~2,500 characters: a short prompt
    text = "\n\n".join(paragraphs)
    half = len(paragraphs) // 2
    pages = [
        Page(number=1, text="\n\n".join(paragraphs[:half])),
        Page(number=2, text="\n\n".join(paragraphs[half:])),
    ]
    counter = load_token_counter()
    chunks = chunk_pages("vivint", pages, counter, max_tokens=256, overlap_tokens=32)
    document = Document(
        id="vivint", tenant="t", filename=CONTRACT.name, sha256="0" * 64, size_bytes=len(text)
    )
    llm = chat_model(llm_url, llm_speed, max_tokens=256, max_retries=1)
    sent = Recording(llm)
    budget = Budget(max_model_len=4096, max_output_tokens=256, max_prompt_tokens=3500)
    asked = ["Non-Compete", "No-Solicit of Employees", "Governing Law"]

    def candidates(category: RiskCategory) -> list[ScoredChunk]:
        return rerank(
            category.query, [ScoredChunk(chunk=c, score=0.0) for c in chunks], LexicalReranker()
        )

    report = extract_risks(
        document,
        chunks,
        kind="contract",
        llm=sent,
        budget=budget,
        candidates=candidates,
        cache_salt="t",
        only=asked,
        selection=Selection(min_score=float("-inf")),
    )

    assert RiskReport.model_validate(report.model_dump()) == report
    # every passage in the first, small request (a slow machine may then split it on a
    # timeout, as designed: the number of requests is not asserted)
    assert sent.prompts[0].count('<passage n="') == report.passages
    assert 0 < report.passages <= len(chunks)
    assert llm.usage().requests >= 1
    source = normalise(text)[0]
    for finding in report.findings:  # grounded or not, the quote is the document's text
        assert finding.category in asked
        assert finding.char_start is not None
        assert finding.page in (1, 2)
        assert normalise(finding.quote)[0] in source
