"""Pages per minute per tenant: counted when parsed (a real SQLite ledger); at the limit an
upload is refused with the limit in the message and a queued document waits, re-sent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from pipelines.errors import PagesPerMinuteExceeded
from pipelines.models import DocumentStatus
from services.adapters.blobs import FileBlobStore
from services.adapters.embedder_fake import HashEmbedder
from services.adapters.erasure import SqlEraser
from services.adapters.index_fake import InMemoryIndex
from services.adapters.page_usage import SqlPageLedger, page_usage
from services.adapters.store import SqlStore
from services.app.documents import DocumentService
from services.settings import Settings
from tests.unit.test_documents_service import PDF, InlineQueue, StubParser, WordCounter

S = DocumentStatus


class DelayingQueue(InlineQueue):
    def __init__(self) -> None:
        super().__init__()
        self.later: list[tuple[str, float]] = []

    def enqueue_parse_later(self, document_id: str, delay_s: float) -> None:
        self.later.append((document_id, delay_s))


@pytest.fixture
def queue() -> DelayingQueue:
    return DelayingQueue()


@pytest.fixture
def service(tmp_path: Path, queue: DelayingQueue) -> Iterator[DocumentService]:
    settings = Settings(data_dir=tmp_path)
    settings.parser.pages_per_minute = 2  # the stub parser gives 2 pages per document
    store = SqlStore(f"sqlite:///{tmp_path / 'test.db'}")
    svc = DocumentService(
        settings=settings,
        store=store,
        blobs=FileBlobStore(tmp_path / "blobs"),
        parser=StubParser(),
        counter=WordCounter(),
        embedder=HashEmbedder(32),
        index=InMemoryIndex(32),
        queue=queue,
        pages=SqlPageLedger(store.engine),
        eraser=SqlEraser(store.engine),
    )
    queue.service = svc
    yield svc
    store.close()


def _age_ledger(service: DocumentService, seconds: float) -> None:
    assert isinstance(service.pages, SqlPageLedger)
    with service.pages.engine.begin() as conn:
        conn.execute(
            update(page_usage).values(parsed_at=page_usage.c.parsed_at - timedelta(seconds=seconds))
        )


def test_limit_refuses_uploads_and_defers_queued_documents(
    service: DocumentService, queue: DelayingQueue
) -> None:
    first = service.upload("t1", "a.pdf", PDF + b"alpha").document
    second = service.upload("t1", "b.pdf", PDF + b"beta").document
    queue.drain()
    assert service.get("t1", first.id).status is S.READY
    waiting = service.get("t1", second.id)
    assert waiting.status is S.QUEUED
    assert waiting.error_code == "pages_per_minute"
    assert "the limit is 2 pages per minute" in (waiting.reason or "")
    assert [doc for doc, _ in queue.later] == [second.id]
    assert 1 <= queue.later[0][1] <= 60

    with pytest.raises(PagesPerMinuteExceeded, match="limit is 2 pages per minute") as refused:
        service.upload("t1", "c.pdf", PDF + b"gamma")
    assert refused.value.retry_after_s is not None
    assert len(service.list("t1")) == 2  # nothing stored for the refused upload
    service.upload("t2", "c.pdf", PDF + b"gamma")  # another tenant has its own minute
    service.upload("t1", "a.pdf", PDF + b"alpha")  # a duplicate costs no pages

    _age_ledger(service, 61)
    service.run_parse(second.id)  # the re-sent message, a minute later
    queue.drain()
    done = service.get("t1", second.id)
    assert (done.status, done.error_code, done.reason) == (S.READY, None, None)


def test_a_document_parsed_twice_counts_once(service: DocumentService) -> None:
    assert service.pages is not None
    one, two, three = (
        service.upload(tenant, "a.pdf", PDF + body).document.id
        for tenant, body in (("t1", b"one"), ("t1", b"two"), ("t2", b"three"))
    )
    service.pages.record("t1", one, 5)
    service.pages.record("t1", one, 5)
    service.pages.record("t1", two, 1)
    service.pages.record("t2", three, 7)
    service.pages.record("t1", "deleted-or-unknown", 9)  # no document: not counted
    since = datetime.now(UTC) - timedelta(minutes=1)
    assert service.pages.used_since("t1", since)[0] == 6


def test_no_limit_when_zero(service: DocumentService, queue: DelayingQueue) -> None:
    service.settings.parser.pages_per_minute = 0
    for word in ("one", "two", "three"):
        service.upload("t1", f"{word}.pdf", PDF + word.encode())
    queue.drain()
    assert {d.status for d in service.list("t1")} == {S.READY}
    assert queue.later == []
