"""Upload faults leave nothing visible: a full disk, a broker that cannot take the message."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.errors import BackendUnavailable, StorageFull
from services.adapters.blobs import FileBlobStore
from services.adapters.embedder_fake import HashEmbedder
from services.adapters.index_fake import InMemoryIndex
from services.adapters.store import SqlStore
from services.documents import DocumentService
from services.settings import Settings
from tests.unit.test_documents_service import PDF, InlineQueue, StubParser, WordCounter


class DownQueue(InlineQueue):
    def enqueue_parse(self, document_id: str) -> None:
        raise BackendUnavailable("the task broker is unavailable: connection refused")


class FullBlobs(FileBlobStore):
    def put(self, key: str, data: bytes) -> None:
        raise StorageFull("no space left to store the upload")


def _service(tmp_path: Path, queue: InlineQueue, blobs: FileBlobStore) -> DocumentService:
    return DocumentService(
        settings=Settings(data_dir=tmp_path), store=SqlStore(f"sqlite:///{tmp_path / 'db'}"),
        blobs=blobs, parser=StubParser(), counter=WordCounter(), embedder=HashEmbedder(32),
        index=InMemoryIndex(32), queue=queue)


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def test_broker_down_at_upload_keeps_no_row_and_no_file(tmp_path: Path) -> None:
    service = _service(tmp_path, DownQueue(), FileBlobStore(tmp_path / "blobs"))
    with pytest.raises(BackendUnavailable, match="broker"):
        service.upload("t1", "a.pdf", PDF + b"alpha")
    assert service.list("t1") == []
    assert _files(tmp_path / "blobs") == []


def test_full_disk_at_upload_keeps_no_row(tmp_path: Path) -> None:
    service = _service(tmp_path, InlineQueue(), FullBlobs(tmp_path / "blobs"))
    with pytest.raises(StorageFull):
        service.upload("t1", "a.pdf", PDF + b"alpha")
    assert service.list("t1") == []
