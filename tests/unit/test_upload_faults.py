"""Upload faults leave nothing visible: a full disk, a broker that cannot take the message."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.errors import BackendUnavailable, StorageFull
from services.adapters.blobs import FileBlobStore
from services.adapters.embedder_fake import HashEmbedder
from services.adapters.erasure import SqlEraser
from services.adapters.index_fake import InMemoryIndex
from services.adapters.store import SqlStore
from services.app.documents import DocumentService
from services.settings import Settings
from tests.unit.test_documents_service import PDF, InlineQueue, StubParser, WordCounter


class DownQueue(InlineQueue):
    def enqueue_parse(self, document_id: str) -> None:
        raise BackendUnavailable("the task broker is unavailable: connection refused")


class FullBlobs(FileBlobStore):
    def put(self, key: str, data: bytes) -> None:
        raise StorageFull("no space left to store the upload")


def _service(tmp_path: Path, queue: InlineQueue, blobs: FileBlobStore) -> DocumentService:
    store = SqlStore(f"sqlite:///{tmp_path / 'db'}")
    return DocumentService(
        settings=Settings(data_dir=tmp_path),
        store=store,
        blobs=blobs,
        parser=StubParser(),
        counter=WordCounter(),
        embedder=HashEmbedder(32),
        index=InMemoryIndex(32),
        queue=queue,
        eraser=SqlEraser(store.engine),
    )


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


def test_unfinished_upload_files_are_removed_on_start_not_live_ones(tmp_path: Path) -> None:
    """A process killed mid-write leaves `.upload-*` files: the next start removes those
    untouched for an hour; a younger one may be another process's live write."""
    import os
    import time

    FileBlobStore(tmp_path).put("abc", b"%PDF-1.4 kept")
    stale = tmp_path / "ab" / ".upload-dead"
    live = tmp_path / "ab" / ".upload-live"
    stale.write_bytes(b"half a file")
    live.write_bytes(b"being written")
    hour_ago = time.time() - 3700
    os.utime(stale, (hour_ago, hour_ago))

    store = FileBlobStore(tmp_path)
    assert not stale.exists()
    assert live.exists()
    assert store.get("abc") == b"%PDF-1.4 kept"
