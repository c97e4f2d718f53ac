"""DocumentService with fakes for the parser, embedder and index, and real SQLite + files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.errors import (
    BackendUnavailable,
    CorruptPdf,
    EmptyDocument,
    NotAPdf,
    NotFound,
    TooLarge,
)
from pipelines.models import DocumentStatus, Page, ParsedDocument, ScoredChunk
from pipelines.portfolio import DocumentFilter
from pipelines.ports import PageProgress
from services.adapters.blobs import FileBlobStore
from services.adapters.embedder_fake import HashEmbedder
from services.adapters.erasure import SqlEraser
from services.adapters.index_fake import InMemoryIndex
from services.adapters.store import SqlStore
from services.app.documents import DocumentService
from services.app.search import search
from services.settings import Settings

PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n"


class WordCounter:
    def count(self, text: str) -> int:
        return len(text.split())


class StubParser:
    """Pages derived from the bytes; bytes containing BROKEN fail like a corrupt PDF."""

    def __init__(self) -> None:
        self.calls = 0

    def parse(
        self, data: bytes, *, password: str | None = None, on_page: PageProgress | None = None
    ) -> ParsedDocument:
        self.calls += 1
        if b"BROKEN" in data:
            raise CorruptPdf("the PDF is damaged: xref table not found")
        text = data.decode("latin-1").split("endobj", 1)[-1].strip() or "empty"
        pages = [Page(number=1, text=f"Liquidated damages of {text}."), Page(number=2, text=text)]
        for done in range(1, len(pages) + 1):
            if on_page:
                on_page(done, len(pages))
        return ParsedDocument(pages=pages)


class InlineQueue:
    """Runs tasks synchronously, as a worker would, after the current call returns."""

    def __init__(self) -> None:
        self.pending: list[tuple[str, str]] = []
        self.service: DocumentService | None = None

    def enqueue_parse(self, document_id: str) -> None:
        self.pending.append(("parse", document_id))

    def enqueue_index(self, document_id: str) -> None:
        self.pending.append(("index", document_id))

    def drain(self) -> None:
        assert self.service is not None
        while self.pending:
            step, document_id = self.pending.pop(0)
            if step == "parse":
                self.service.run_parse(document_id)
            else:
                self.service.run_index(document_id)


@pytest.fixture
def queue() -> InlineQueue:
    return InlineQueue()


@pytest.fixture
def service(tmp_path: Path, queue: InlineQueue) -> Iterator[DocumentService]:
    settings = Settings(data_dir=tmp_path)
    settings.parser.max_upload_mb = 0.001
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
        eraser=SqlEraser(store.engine),
    )
    queue.service = svc
    yield svc
    store.close()


def passages(service: DocumentService, tenant: str, query: str) -> list[ScoredChunk]:
    """The API's search (`services.app.search`) over the tenant's documents."""
    return [
        hit.passage
        for hit in search(
            query,
            tenant=tenant,
            where=DocumentFilter(),
            store=service.store,
            embedder=service.embedder,
            index=service.index,
        )
    ]


def test_upload_then_worker_steps_make_document_ready(
    service: DocumentService, queue: InlineQueue
) -> None:
    upload = service.upload("t1", "../../etc/passwd.pdf", PDF + b"alpha beta")
    assert upload.document.status is DocumentStatus.QUEUED
    assert upload.document.filename == "passwd.pdf"  # no path parts kept
    queue.drain()
    doc = service.get("t1", upload.document.id)
    assert doc.status is DocumentStatus.READY
    assert (doc.pages_total, doc.pages_parsed) == (2, 2)
    assert doc.chunks_total == doc.chunks_embedded == service.index.count(document_id=doc.id)
    hits = passages(service, "t1", "liquidated damages")
    assert hits
    assert hits[0].chunk.document_id == doc.id
    assert hits[0].chunk.page_start == 1


def test_same_file_twice_is_indexed_once(service: DocumentService, queue: InlineQueue) -> None:
    first = service.upload("t1", "a.pdf", PDF + b"same")
    queue.drain()
    second = service.upload("t1", "b.pdf", PDF + b"same")
    assert second.duplicate
    assert second.document.id == first.document.id
    assert queue.pending == []
    assert len(service.list("t1")) == 1


def test_corrupt_document_fails_alone_with_reason(
    service: DocumentService, queue: InlineQueue
) -> None:
    bad = service.upload("t1", "bad.pdf", PDF + b"BROKEN")
    good = service.upload("t1", "good.pdf", PDF + b"fine text")
    queue.drain()
    failed = service.get("t1", bad.document.id)
    assert failed.status is DocumentStatus.FAILED
    assert failed.error_code == "corrupt"
    assert "xref" in (failed.reason or "")
    assert service.get("t1", good.document.id).status is DocumentStatus.READY


def test_upload_rejects_empty_oversized_and_non_pdf(service: DocumentService) -> None:
    with pytest.raises(EmptyDocument):
        service.upload("t1", "e.pdf", b"")
    with pytest.raises(TooLarge, match="limit"):
        service.upload("t1", "big.pdf", PDF + b"x" * 5000)
    with pytest.raises(NotAPdf):
        service.upload("t1", "img.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    assert service.list("t1") == []


def test_delete_removes_points_file_and_rows(service: DocumentService, queue: InlineQueue) -> None:
    upload = service.upload("t1", "a.pdf", PDF + b"to delete")
    queue.drain()
    doc_id = upload.document.id
    assert service.index.count(document_id=doc_id) > 0
    service.delete("t1", doc_id)
    assert service.index.count(document_id=doc_id) == 0
    assert service.store.load_chunks(doc_id) == []
    with pytest.raises(NotFound):
        service.blobs.get(doc_id)
    with pytest.raises(NotFound):
        service.get("t1", doc_id)


def test_other_tenant_cannot_see_or_delete(service: DocumentService, queue: InlineQueue) -> None:
    upload = service.upload("t1", "a.pdf", PDF + b"secret terms")
    queue.drain()
    with pytest.raises(NotFound):
        service.get("t2", upload.document.id)
    with pytest.raises(NotFound):
        service.delete("t2", upload.document.id)
    assert passages(service, "t2", "secret terms") == []


def test_unfinished_documents_are_resumed_and_steps_are_idempotent(
    service: DocumentService, queue: InlineQueue
) -> None:
    upload = service.upload("t1", "a.pdf", PDF + b"resume me")
    queue.pending.clear()  # the worker died before taking the task
    assert service.resume_unfinished() == 1
    queue.drain()
    doc_id = upload.document.id
    chunks = service.index.count(document_id=doc_id)
    service.run_parse(doc_id)  # a duplicate delivery changes nothing
    service.run_index(doc_id)
    assert service.get("t1", doc_id).status is DocumentStatus.READY
    assert service.index.count(document_id=doc_id) == chunks
    assert service.resume_unfinished() == 0


def test_failed_document_uploaded_again_is_retried(
    service: DocumentService, queue: InlineQueue
) -> None:
    bad = service.upload("t1", "bad.pdf", PDF + b"BROKEN")
    queue.drain()
    again = service.upload("t1", "bad.pdf", PDF + b"BROKEN", password="secret")
    assert again.duplicate
    assert again.document.status is DocumentStatus.QUEUED
    assert service.store.password_for(bad.document.id) == "secret"
    queue.drain()
    assert service.get("t1", bad.document.id).status is DocumentStatus.FAILED
    assert service.store.password_for(bad.document.id) is None  # not kept after parsing


def test_a_retried_parse_sends_the_index_message_its_first_attempt_lost(
    service: DocumentService, queue: InlineQueue
) -> None:
    upload = service.upload("t1", "a.pdf", PDF + b"lost message")
    queue.pending.clear()
    sent = queue.enqueue_index

    def broker_down(document_id: str) -> None:
        raise BackendUnavailable("broker unavailable")

    queue.enqueue_index = broker_down  # type: ignore[method-assign]
    with pytest.raises(BackendUnavailable):
        service.run_parse(upload.document.id)  # moved to indexing, then the send failed
    assert service.get("t1", upload.document.id).status is DocumentStatus.INDEXING
    queue.enqueue_index = sent  # type: ignore[method-assign]
    service.run_parse(upload.document.id)  # Celery's retry of the parse task
    queue.drain()
    assert service.get("t1", upload.document.id).status is DocumentStatus.READY


def test_the_same_bytes_uploaded_at_the_same_moment_give_one_document(
    service: DocumentService,
    queue: InlineQueue,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 11, defect 7: two uploads of one file racing past the "already there?" check
    both try to add a row; the second gets the first's document, not a 409."""
    first = service.upload("t1", "a.pdf", PDF + b"racing bytes")
    real = service.store.find_by_sha256
    calls: list[str] = []

    def not_yet_then_real(tenant: str, sha256: str) -> object:
        calls.append(sha256)
        return None if len(calls) == 1 else real(tenant, sha256)  # lost the race

    monkeypatch.setattr(service.store, "find_by_sha256", not_yet_then_real)
    second = service.upload("t1", "b.pdf", PDF + b"racing bytes")
    assert second.duplicate
    assert second.document.id == first.document.id
    assert len(calls) == 2
    blobs = [p for p in Path(service.blobs.root).rglob("*") if p.is_file()]  # type: ignore[attr-defined]
    assert len(blobs) == 1  # the loser's file is not left behind
