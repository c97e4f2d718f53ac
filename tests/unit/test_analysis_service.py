"""AnalysisService with a scripted model, InMemoryIndex, HashEmbedder and SQLite: answers,
summaries and risk reports cached, invalidated when documents change, recomputed on refresh."""

from __future__ import annotations

import json

import pytest

from pipelines.errors import DocumentNotReady, LlmUnavailable, NotFound
from pipelines.models import Page, ParsedDocument
from pipelines.summary_models import ContractSummary
from services.adapters.analysis_cache import SqlAnalysisCache
from services.adapters.llm_fake import FakeChatModel
from services.app.analysis import AnalysisService, normalise_question
from services.app.documents import DocumentService
from tests.unit.analysis_support import Handle, answers_asked, ready, responder
from tests.unit.test_documents_service import PDF, InlineQueue, passages


def test_repeated_question_is_served_from_the_cache(
    docs: DocumentService,
    queue: InlineQueue,
    analysis: AnalysisService,
    llm: FakeChatModel,
) -> None:
    doc = ready(docs, queue, b"liquidated damages of ten percent")
    first = analysis.ask("t1", "What  are the liquidated DAMAGES?")
    assert first.answer.found
    assert not first.cached
    assert [c.document_id for c in first.answer.citations] == [doc]
    assert first.answer.citations[0].chunk_numbers
    again = analysis.ask("t1", "  what are   the liquidated damages?")
    assert again.cached
    assert again.answer == first.answer
    assert answers_asked(llm) == 1
    assert analysis.cache_stats()["answers"] == {"hits": 1, "misses": 1}
    assert not analysis.ask("t1", "What are the termination rights?").cached
    assert llm.calls[0].cache_salt == "t1"


def test_answers_invalidated_when_a_document_becomes_ready_or_is_deleted(
    docs: DocumentService,
    queue: InlineQueue,
    analysis: AnalysisService,
    llm: FakeChatModel,
) -> None:
    first = ready(docs, queue, b"liquidated damages of ten percent")
    analysis.ask("t1", "liquidated damages?")
    assert analysis.ask("t1", "liquidated damages?").cached
    second = ready(docs, queue, b"liquidated damages of five percent")
    after_new = analysis.ask("t1", "liquidated damages?")
    assert not after_new.cached
    restricted = analysis.ask("t1", "liquidated damages?", [first])
    assert restricted.cached  # the same document set as the first ask
    assert {c.document_id for c in restricted.answer.citations} == {first}
    assert analysis.ask("t1", "liquidated damages?").cached  # both documents again
    docs.delete("t1", first)
    after_delete = analysis.ask("t1", "liquidated damages?")
    assert not after_delete.cached
    assert {c.document_id for c in after_delete.answer.citations} == {second}
    assert analysis.cache_stats()["answers"] == {"hits": 3, "misses": 3}


def test_not_ready_unknown_and_other_tenantdocs(
    docs: DocumentService,
    queue: InlineQueue,
    analysis: AnalysisService,
) -> None:
    doc = ready(docs, queue, b"liquidated damages", tenant="a")
    pending = docs.upload("a", "late.pdf", PDF + b"pending text").document.id
    with pytest.raises(DocumentNotReady, match="queued"):
        analysis.ask("a", "damages?", [pending])
    with pytest.raises(DocumentNotReady):
        analysis.summary("a", pending)
    with pytest.raises(NotFound):
        analysis.ask("b", "damages?", [doc])
    with pytest.raises(NotFound):
        analysis.risks("b", doc)
    assert not analysis.ask("b", "damages?").answer.found  # tenant b has no documents


def test_summary_and_risks_cached_per_model_and_recomputed_on_refresh(
    docs: DocumentService,
    queue: InlineQueue,
    analysis: AnalysisService,
    handle: Handle,
    llm: FakeChatModel,
) -> None:
    doc = ready(docs, queue, b"This Agreement is made by the parties hereto.")
    first = analysis.summary("t1", doc)
    assert not first.cached
    assert first.kind == "contract"
    assert first.model == "model-a"
    assert isinstance(first.summary, ContractSummary)
    assert analysis.summary("t1", doc).cached
    assert analysis.summary("t1", doc).summary == first.summary
    calls = len(llm.calls)
    assert not analysis.summary("t1", doc, refresh=True).cached
    assert len(llm.calls) == calls + 1
    risks = analysis.risks("t1", doc)
    assert not risks.cached
    assert risks.report.document_id == doc
    assert analysis.risks("t1", doc).cached
    assert not analysis.risks("t1", doc, refresh=True).cached
    handle.model = FakeChatModel(responder=responder, name="model-b")
    assert not analysis.summary("t1", doc).cached  # another model: computed again
    assert not analysis.risks("t1", doc).cached
    stats = analysis.cache_stats()
    assert stats["summaries"] == {"hits": 2, "misses": 3}
    assert stats["risks"] == {"hits": 1, "misses": 3}


def test_stream_equals_answer_and_is_cached(
    docs: DocumentService,
    queue: InlineQueue,
    analysis: AnalysisService,
) -> None:
    ready(docs, queue, b"liquidated damages of ten percent")
    stream = analysis.stream("t1", "liquidated damages?")
    text = "".join(stream)
    result = stream.result()
    assert text == result.answer.text
    assert result.answer.found
    assert not result.cached
    replay = analysis.stream("t1", "Liquidated damages?")
    assert "".join(replay) == text
    assert replay.result().cached


def test_llm_unavailable_is_raised_before_any_work(
    docs: DocumentService,
    queue: InlineQueue,
    analysis: AnalysisService,
    handle: Handle,
) -> None:
    doc = ready(docs, queue, b"liquidated damages")
    handle.model = None
    with pytest.raises(LlmUnavailable):
        analysis.ask("t1", "damages?")
    with pytest.raises(LlmUnavailable):
        analysis.summary("t1", doc)
    assert passages(docs, "t1", "damages")  # search still works


def test_normalise_question() -> None:
    assert normalise_question("  What\tIS\n the  Term? ") == "what is the term?"


class FormFeedParser:
    """One page per form-feed-separated part of the bytes after the PDF header."""

    def parse(
        self, data: bytes, *, password: str | None = None, on_page: object = None
    ) -> ParsedDocument:
        text = data.decode("latin-1").split("endobj", 1)[-1].strip()
        return ParsedDocument(
            pages=[Page(number=n, text=part) for n, part in enumerate(text.split("\f"), 1)]
        )


def test_risk_pages_come_from_the_page_offsets_kept_at_ingest(
    docs: DocumentService,
    queue: InlineQueue,
    handle: Handle,
) -> None:
    """Page 2 opens with a blank line, so the chunk alone cannot tell where it begins; the
    page offsets stored at parse time put the quote on page 2 (the model said page 1)."""
    quote = "The Supplier shall pay uncapped damages for any breach."
    docs.parser = FormFeedParser()
    doc = ready(docs, queue, f"First part of the agreement.\f\n\nIntro.\n\n{quote}".encode())
    assert docs.store.load_page_starts(doc) is not None
    finding = {
        "passage": 1,
        "category": "Uncapped Liability",
        "severity": "high",
        "reason": "uncapped",
        "quote": quote,
    }
    handle.model = FakeChatModel(responder=lambda _: json.dumps({"findings": [finding]}))
    analysis = AnalysisService(
        store=docs.store,
        embedder=docs.embedder,  # type: ignore[arg-type]
        index=docs.index,
        counter=docs.counter,
        llm=handle,
        cache=SqlAnalysisCache(docs.store.engine),
    )  # type: ignore[attr-defined]
    [found] = analysis.risks("t1", doc).report.findings
    assert found.grounded
    assert found.page == 2


def test_a_question_on_a_document_that_fits_shares_the_summary_prefix(
    docs: DocumentService,
    queue: InlineQueue,
    analysis: AnalysisService,
    llm: FakeChatModel,
) -> None:
    """The whole document is packed (not just the retrieved chunks and their neighbours),
    the same way as for the summary, so the question reuses the summary's cached prefix."""
    body = " ".join(f"Clause {n} says the supplier delivers lot {n} on time." for n in range(300))
    doc = ready(docs, queue, body.encode())
    assert (docs.store.get_by_id(doc).chunks_total or 0) >= 5
    analysis.retrieval_limit = 1  # retrieval alone would pack about three chunks
    analysis.summary("t1", doc)
    analysis.ask("t1", "When is lot 7 delivered?", [doc])
    summary_call, question_call = llm.calls[-2], llm.calls[-1]
    assert question_call.messages[0] == summary_call.messages[0]
    shared = 0
    for a, b in zip(
        summary_call.messages[1].content, question_call.messages[1].content, strict=False
    ):
        if a != b:
            break
        shared += 1
    assert "Clause 299 says" in summary_call.messages[1].content[:shared]


def test_cache_counts_are_per_tenant(
    docs: DocumentService,
    queue: InlineQueue,
    analysis: AnalysisService,
) -> None:
    """Issue 11, defect 7: /v1/analysis/cache shows the caller's own lookups."""
    ready(docs, queue, b"liquidated damages of ten percent", tenant="a")
    ready(docs, queue, b"liquidated damages of five percent", tenant="b")
    analysis.ask("a", "liquidated damages?")
    analysis.ask("a", "liquidated damages?")
    analysis.ask("b", "liquidated damages?")
    assert analysis.cache_stats("a")["answers"] == {"hits": 1, "misses": 1}
    assert analysis.cache_stats("b")["answers"] == {"hits": 0, "misses": 1}
    assert analysis.cache_stats("nobody")["answers"] == {"hits": 0, "misses": 0}
    assert analysis.cache_stats()["answers"] == {"hits": 1, "misses": 2}
