"""Answers carry their evidence through AnalysisService (fakes: scripted model, hash
embedder, in-memory index, SQLite): found or not, streamed or not; a "not found" is
checked against the passages; governing law is read without the model, quote located."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from pipelines.answer_models import NOT_FOUND
from pipelines.answers import COULD_NOT_ANSWER
from pipelines.evidence import RELEVANT_THRESHOLD
from services.adapters.llm_fake import FakeChatModel
from services.api.routes import analysis as analysis_routes
from services.app.analysis import AnalysisService
from services.app.documents import DocumentService
from services.settings import Settings
from tests.unit.analysis_support import Handle, ready
from tests.unit.test_analysis_service import FormFeedParser
from tests.unit.test_documents_service import InlineQueue

LAW = (
    "13. Governing Law. This Agreement shall be governed by and construed in accordance "
    "with the laws of the State of New York, without regard to its conflict of laws rules."
)
OPENING = "SUPPLY AGREEMENT dated as of May 31, 2017 between Acme Inc. and Beta LLC."
DELIVERY = " ".join(
    f"The Supplier shall deliver lot {n} in good condition to the warehouse." for n in range(40)
)


@pytest.fixture
def silent(handle: Handle) -> FakeChatModel:
    """A model that never finds the answer."""
    handle.model = FakeChatModel(responder=lambda _: NOT_FOUND, name="model-nf")
    return handle.model


def contract(docs: DocumentService, queue: InlineQueue, *pages: str) -> str:
    docs.parser = FormFeedParser()
    return ready(docs, queue, "\f".join(pages).encode())


def test_a_found_answer_carries_its_evidence(
    docs: DocumentService,
    queue: InlineQueue,
    analysis: AnalysisService,
) -> None:
    doc = contract(docs, queue, OPENING, DELIVERY, LAW)
    result = analysis.ask("t1", "What is the governing law?")
    assert result.answer.found
    evidence = result.answer.evidence
    assert evidence
    best = evidence[0]
    assert best.document_id == doc
    assert best.filename == "contract.pdf"
    assert "governed by" in best.excerpt
    assert best.page_start <= 3 == best.page_end
    text = "\n\n".join((OPENING, DELIVERY, LAW))
    assert best.excerpt.split()[0] in text[best.char_start : best.char_end]
    assert analysis.ask("t1", "What is the governing law?").answer.evidence == evidence


def test_not_found_is_checked_and_still_shows_the_passages(
    docs: DocumentService,
    queue: InlineQueue,
    analysis: AnalysisService,
    silent: FakeChatModel,
) -> None:
    law_doc = contract(docs, queue, OPENING, DELIVERY, LAW)
    checked = analysis.ask("t1", "What is the governing law?", [law_doc]).answer
    assert not checked.found
    assert checked.not_found_checked == "model_could_not_answer"
    assert checked.text.startswith(COULD_NOT_ANSWER)
    assert max(e.relevance for e in checked.evidence) >= RELEVANT_THRESHOLD
    [law] = checked.extracted
    assert (law.field, law.value, law.page_start, law.page_end) == (
        "governing_law",
        "New York",
        3,
        3,
    )
    text = "\n\n".join((OPENING, DELIVERY, LAW))
    assert text[law.char_start : law.char_end] == law.quote
    assert law.quote.startswith("This Agreement shall be governed")

    other = contract(docs, queue, "Delivery terms.", DELIVERY[:300])
    absent = analysis.ask("t1", "What is the governing law?", [other]).answer
    assert absent.text == NOT_FOUND
    assert absent.not_found_checked == "absent"
    assert absent.evidence  # the best passages are shown all the same
    assert absent.extracted == []


def test_streamed_not_found_ends_with_the_checked_text(
    docs: DocumentService,
    queue: InlineQueue,
    analysis: AnalysisService,
    silent: FakeChatModel,
) -> None:
    contract(docs, queue, OPENING, DELIVERY, LAW)
    stream = analysis.stream("t1", "What is the governing law?")
    text = "".join(stream)
    result = stream.result()
    assert text == result.answer.text
    assert text.startswith(COULD_NOT_ANSWER)
    assert result.answer.evidence
    replay = analysis.stream("t1", "what is the governing law?")
    assert "".join(replay) == text
    assert replay.result().answer.evidence == result.answer.evidence


def test_dates_are_extracted_only_when_asked(
    docs: DocumentService,
    queue: InlineQueue,
    analysis: AnalysisService,
) -> None:
    contract(docs, queue, OPENING, DELIVERY, LAW)
    [made] = analysis.ask("t1", "What is the effective date?").answer.extracted
    assert (made.field, made.value, made.page_start) == ("agreement_date", "2017-05-31", 1)
    assert "May 31, 2017" in made.quote
    later = contract(docs, queue, OPENING + " It shall become effective on June 1, 2017.", DELIVERY)
    [effective] = analysis.ask("t1", "What is the effective date?", [later]).answer.extracted
    assert (effective.field, effective.value) == ("effective_date", "2017-06-01")
    assert analysis.ask("t1", "Who delivers the goods?").answer.extracted == []


def _api(tmp_path: Path, analysis: AnalysisService) -> TestClient:
    app = FastAPI()
    app.include_router(analysis_routes.router)
    app.state.container = SimpleNamespace(analysis=analysis)
    app.state.settings = Settings(data_dir=tmp_path, api={"auth": "none", "default_tenant": "t1"})
    return TestClient(app)


def test_the_api_answer_and_its_stream_carry_the_evidence(
    tmp_path: Path,
    docs: DocumentService,
    queue: InlineQueue,
    analysis: AnalysisService,
    silent: FakeChatModel,
) -> None:
    doc = contract(docs, queue, OPENING, DELIVERY, LAW)
    with _api(tmp_path, analysis) as client:
        response = client.post("/v1/questions", json={"question": "Which law governs?"})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["found"] is False
        assert body["not_found_checked"] == "model_could_not_answer"
        best = body["evidence"][0]
        assert best["document_id"] == doc
        assert best["filename"] == "contract.pdf"
        assert {
            "page_start",
            "page_end",
            "section_path",
            "excerpt",
            "char_start",
            "char_end",
            "score",
            "relevance",
        } <= set(best)
        [law] = body["extracted"]
        assert (law["field"], law["value"], law["page_start"]) == ("governing_law", "New York", 3)
        assert law["quote"].startswith("This Agreement shall be governed")

        streamed = client.post(
            "/v1/questions", json={"question": "What is the governing law?", "stream": True}
        )
        events = [block.split("\n", 1) for block in streamed.text.strip().split("\n\n")]
        name, data = events[-1]
        assert name == "event: answer"
        final = json.loads(data.removeprefix("data: "))
        assert final["evidence"]
        assert final["extracted"]
        deltas = [
            json.loads(d.removeprefix("data: ")) for n, d in events[:-1] if n == "event: delta"
        ]
        assert "".join(deltas) == final["answer"]
