"""The worker's index steps of several documents share embedding calls (DocumentIngestion with
its EmbedBatcher); a batch that fails leaves only its own documents to be retried."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from pipelines.errors import BackendUnavailable, EmbeddingRejected
from pipelines.models import DocumentStatus
from services.adapters.blobs import FileBlobStore
from services.adapters.embedder_fake import HashEmbedder
from services.adapters.erasure import SqlEraser
from services.adapters.index_fake import InMemoryIndex
from services.adapters.store import SqlStore
from services.app.documents import DocumentService
from services.settings import Settings
from tests.unit.test_documents_service import PDF, InlineQueue, StubParser, WordCounter


class GatedEmbedder(HashEmbedder):
    """Records each call; the first waits for `gate`, so other documents can queue up
    behind it. A call holding a text with `poison` in it fails as a lost server."""

    def __init__(self, poison: str | None = None) -> None:
        super().__init__(32)
        self.calls: list[list[str]] = []
        self.gate = threading.Event()
        self.poison = poison

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        if len(self.calls) == 1:
            self.gate.wait(5)
        if self.poison is not None and any(self.poison in text for text in texts):
            raise BackendUnavailable("embedding server went away")
        return super().embed_documents(texts)


def _service(tmp_path: Path, embedder: GatedEmbedder, batch_size: int) -> DocumentService:
    settings = Settings(data_dir=tmp_path)
    settings.embedder.batch_size = batch_size
    settings.embedder.batch_wait_s = 0.0
    store = SqlStore(f"sqlite:///{tmp_path / 'test.db'}")
    queue = InlineQueue()
    service = DocumentService(
        settings=settings,
        store=store,
        blobs=FileBlobStore(tmp_path / "blobs"),
        parser=StubParser(),
        counter=WordCounter(),
        embedder=embedder,
        index=InMemoryIndex(32),
        queue=queue,
        eraser=SqlEraser(store.engine),
    )
    queue.service = service
    return service


def _index_at_once(
    service: DocumentService, ids: list[str], gate: threading.Event
) -> dict[str, Exception]:
    errors: dict[str, Exception] = {}

    def run(document_id: str) -> None:
        try:
            service.run_index(document_id)
        except Exception as exc:
            errors[document_id] = exc

    first = threading.Thread(target=run, args=(ids[0],))
    first.start()
    while not service.batches.batches:  # the first document's call is under way
        threading.Event().wait(0.01)
    others = [threading.Thread(target=run, args=(i,)) for i in ids[1:]]
    for thread in others:
        thread.start()
    waiting = sum(service.store.get_by_id(i).chunks_total for i in ids[1:])
    while service.batches._queued() < waiting:  # every other document's chunks are queued
        threading.Event().wait(0.01)
    gate.set()
    for thread in [first, *others]:
        thread.join(10)
    return errors


def test_documents_indexed_at_once_share_an_embedding_call(tmp_path: Path) -> None:
    embedder = GatedEmbedder()
    service = _service(tmp_path, embedder, batch_size=64)
    ids = [
        service.upload("t1", f"{n}.pdf", PDF + f"text {n}".encode()).document.id for n in range(4)
    ]
    for document_id in ids:
        service.run_parse(document_id)
    assert _index_at_once(service, ids, embedder.gate) == {}
    assert len(embedder.calls) == 2  # the first document's, then one for the other three
    others = [service.get("t1", i) for i in ids[1:]]
    assert len(embedder.calls[1]) == sum(doc.chunks_total for doc in others) >= 3
    for document_id in ids:
        doc = service.get("t1", document_id)
        assert doc.status is DocumentStatus.READY
        assert doc.chunks_embedded == doc.chunks_total >= 1
        assert service.index.count(document_id=document_id) == doc.chunks_total
    service.close()
    service.store.close()


def test_a_failed_batch_leaves_only_its_documents_to_retry(tmp_path: Path) -> None:
    embedder = GatedEmbedder(poison="poisoned")
    # batches of 2, one chunk of each waiting document in turn (one chunk each here): the
    # poisoned document shares its batch with whichever document queued beside it
    service = _service(tmp_path, embedder, batch_size=2)
    names = ("first", "alpha", "poisoned", "gamma")
    ids = [service.upload("t1", f"{n}.pdf", PDF + n.encode()).document.id for n in names]
    for document_id in ids:
        service.run_parse(document_id)
    errors = _index_at_once(service, ids, embedder.gate)
    failed_together = {i for i in ids if i in errors}
    (failed_call,) = [call for call in embedder.calls if any("poisoned" in t for t in call)]
    in_failed_call = {n for n in names if any(n in text for text in failed_call)}
    assert failed_together == {ids[names.index(n)] for n in in_failed_call}
    assert all(isinstance(exc, BackendUnavailable) for exc in errors.values())
    assert len(failed_together) < len(ids) - 1, "the other documents were indexed"
    for document_id in ids:
        doc = service.get("t1", document_id)
        if document_id in failed_together:  # left for the task's retry, nothing indexed
            assert doc.status is DocumentStatus.INDEXING
            assert service.index.count(document_id=document_id) == 0
        else:
            assert doc.status is DocumentStatus.READY
            assert service.index.count(document_id=document_id) == doc.chunks_total
    service.close()
    service.store.close()


def test_a_document_whose_text_the_embedder_refuses_fails_with_the_reason(
    tmp_path: Path,
) -> None:
    class Refusing(GatedEmbedder):
        def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
            if any("refused" in text for text in texts):
                raise EmbeddingRejected("the embedding server refused a text, even cut")
            return super().embed_documents(texts)

    embedder = Refusing()
    embedder.gate.set()
    service = _service(tmp_path, embedder, batch_size=64)
    ids = [
        service.upload("t1", f"{n}.pdf", PDF + n.encode()).document.id for n in ("refused", "ok")
    ]
    for document_id in ids:
        service.run_parse(document_id)
        service.run_index(document_id)  # no exception: the failure is the document's
    refused, ok = (service.get("t1", i) for i in ids)
    assert refused.status is DocumentStatus.FAILED
    assert refused.error_code == "embedding_rejected"
    assert "refused a text" in (refused.reason or "")
    assert ok.status is DocumentStatus.READY
    service.close()
    service.store.close()
