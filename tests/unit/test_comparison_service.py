"""ComparisonService with fakes (stub parser, scripted model, inline steps) on SQLite."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from pipelines.comparison_model import CellsReply, ColumnReply
from pipelines.comparison_models import DEFAULT_COLUMNS
from pipelines.errors import BackendUnavailable, DocumentNotReady, NotFound
from pipelines.models import ChatMessage, JobStatus
from services.adapters.comparisons import SqlComparisonStore
from services.adapters.jobs import SqlJobStore
from services.adapters.llm_fake import FakeChatModel
from services.adapters.schema import comparisons
from services.app.analysis import AnalysisService
from services.app.comparisons import ComparisonService, UnknownColumns
from services.app.documents import DocumentService
from services.app.jobs import JobService
from services.app.sweep import Sweep
from tests.unit.analysis_support import ready
from tests.unit.test_documents_service import InlineQueue

LAW = b"This Agreement shall be governed by the laws of the State of New York. "
NON_COMPETE = "Licensee will never compete in the widget market for two years."
"""No phrase of the Non-Compete lexicon: only the model finds it."""


class Queue:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def enqueue_comparison(self, comparison_id: str) -> None:
        self.sent.append(comparison_id)


def cells_reply(messages: list[ChatMessage]) -> str:
    """The model quotes the non-compete sentence when it is in the prompt, else invents."""
    prompt = messages[-1].content
    quote = NON_COMPETE if NON_COMPETE in prompt else "made-up words never in the document"
    return CellsReply(
        cells=[ColumnReply(column="Non-Compete", value="Yes", quote=quote)]
    ).model_dump_json()


@pytest.fixture
def service(analysis: AnalysisService) -> ComparisonService:
    return ComparisonService(
        comparisons=SqlComparisonStore(analysis.store.engine),  # type: ignore[attr-defined]
        analysis=analysis,
        queue=Queue(),
        fan_out=2,
        max_attempts=3,
    )


def test_submit_checks_columns_and_documents_and_reuses_an_active_one(
    service: ComparisonService, docs: DocumentService, queue: InlineQueue
) -> None:
    doc = ready(docs, queue, LAW)
    with pytest.raises(UnknownColumns) as raised:
        service.submit("t1", [doc], ["Governing Law", "Favourite Colour"])
    assert raised.value.unknown == ["Favourite Colour"]
    assert "Governing Law" in raised.value.valid
    with pytest.raises(NotFound):
        service.submit("t1", [doc, "no-such-id"])
    with pytest.raises(NotFound):
        service.submit("t2", [doc])  # another tenant's document
    first = service.submit("t1", [doc])
    assert first.columns == list(DEFAULT_COLUMNS)
    assert service.submit("t1", [doc]).id == first.id
    assert service.submit("t1", [doc], use_model=False).id != first.id
    assert service.queue.sent == [first.id, service.recent("t1")[0].id]  # type: ignore[union-attr]


def test_a_document_not_ready_is_refused(
    service: ComparisonService, docs: DocumentService, queue: InlineQueue
) -> None:
    pending = docs.upload("t1", "c.pdf", b"%PDF-1.7\nnot parsed yet").document.id
    with pytest.raises(DocumentNotReady):
        service.submit("t1", [pending])


def test_run_builds_the_table_with_the_model_only_for_empty_cells_then_reads_the_cache(
    service: ComparisonService, docs: DocumentService, queue: InlineQueue, llm: FakeChatModel
) -> None:
    llm._responder = cells_reply  # type: ignore[assignment]
    one = ready(docs, queue, LAW + NON_COMPETE.encode())
    two = ready(docs, queue, LAW + b"Nothing else is agreed.")
    record = service.submit("t1", [one, two], ["Governing Law", "Non-Compete", "Audit Rights"])
    service.run(record.id)
    done = service.get("t1", record.id)
    assert done.status is JobStatus.DONE
    assert (done.steps_done, done.steps_total) == (2, 2)
    table = done.table()
    assert table is not None
    first, second = table.rows
    assert [first.document_id, second.document_id] == [one, two]
    assert first.cells["Governing Law"].value == "New York"
    assert first.cells["Governing Law"].method == "pattern"
    assert first.cells["Governing Law"].page == 1
    assert first.cells["Non-Compete"].verified  # its quote is the document's sentence
    assert first.cells["Non-Compete"].quote == NON_COMPETE.rstrip(".")
    assert first.cells["Non-Compete"].method == "model"
    assert second.cells["Non-Compete"].value == "Yes"
    assert not second.cells["Non-Compete"].verified  # the model's quote is nowhere in it
    assert second.cells["Non-Compete"].page is None
    asked = len(llm.calls)
    assert asked == 2  # one request per document, none for the pattern-found column
    assert service.analysis.metrics.counts("t1")["comparisons"] == {"hits": 0, "misses": 2}
    again = service.submit("t1", [two, one], ["Governing Law", "Non-Compete", "Audit Rights"])
    service.run(again.id)
    assert len(llm.calls) == asked  # rows read back from the cache
    assert service.analysis.metrics.counts("t1")["comparisons"] == {"hits": 2, "misses": 2}
    rows = service.get("t1", again.id).table()
    assert rows is not None
    assert [r.document_id for r in rows.rows] == [two, one]


def test_without_model_no_request_is_made(
    service: ComparisonService, docs: DocumentService, queue: InlineQueue, llm: FakeChatModel
) -> None:
    doc = ready(docs, queue, LAW)
    record = service.submit("t1", [doc], ["Governing Law", "Non-Compete"], use_model=False)
    service.run(record.id)
    table = service.get("t1", record.id).table()
    assert table is not None
    assert table.rows[0].cells["Non-Compete"].value is None
    assert not [c for c in llm.calls if "comparison table" in c.messages[0].content]


def test_llm_down_leaves_it_waiting_then_fails_it_with_a_reason(
    service: ComparisonService, docs: DocumentService, queue: InlineQueue, llm: FakeChatModel
) -> None:
    doc = ready(docs, queue, LAW)
    llm.unavailable = True
    record = service.submit("t1", [doc], ["Non-Compete"])
    for _ in range(2):
        with pytest.raises(BackendUnavailable):
            service.run(record.id)
        waiting = service.get("t1", record.id)
        assert waiting.status is JobStatus.WAITING
        assert waiting.reason is not None
        assert waiting.reason.startswith("will retry")
    service.run(record.id)  # the third attempt of max_attempts=3 fails it
    failed = service.get("t1", record.id)
    assert failed.status is JobStatus.FAILED
    assert failed.error_code == "llm_unavailable"
    assert failed.reason


def test_a_deleted_document_leaves_the_stored_table_as_it_was(
    service: ComparisonService, docs: DocumentService, queue: InlineQueue
) -> None:
    doc = ready(docs, queue, LAW)
    record = service.submit("t1", [doc], ["Governing Law"], use_model=False)
    service.run(record.id)
    before = service.get("t1", record.id).result
    docs.delete("t1", doc)
    after = service.get("t1", record.id)
    assert after.result == before
    assert json.loads(after.result or "{}")["rows"][0]["cells"]["Governing Law"]["value"] == (
        "New York"
    )


def test_the_sweep_resends_a_comparison_whose_message_was_lost(
    service: ComparisonService, docs: DocumentService, queue: InlineQueue
) -> None:
    doc = ready(docs, queue, LAW)
    record = service.submit("t1", [doc], ["Governing Law"], use_model=False)
    sent: list[str] = service.queue.sent  # type: ignore[union-attr]
    sent.clear()  # its message lost
    jobs = JobService(jobs=SqlJobStore(docs.store.engine), analysis=service.analysis)  # type: ignore[attr-defined]
    sweep = Sweep(docs, jobs, 60.0, comparisons=service)
    sweep()
    assert sent == []  # not stuck yet: it moved a moment ago
    with docs.store.engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(
            update(comparisons)
            .where(comparisons.c.id == record.id)
            .values(updated_at=datetime.now(UTC) - timedelta(seconds=120))
        )
    sweep()
    assert sent == [record.id]
    service.run(record.id)
    assert service.get("t1", record.id).status is JobStatus.DONE
