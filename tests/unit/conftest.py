"""Fixtures of the analysis and job service unit tests: SQLite, the in-memory index, the
hash embedder, a stub parser, an inline queue and a scripted model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.adapters.analysis_cache import SqlAnalysisCache
from services.adapters.blobs import FileBlobStore
from services.adapters.embedder_fake import HashEmbedder
from services.adapters.erasure import SqlEraser
from services.adapters.index_fake import InMemoryIndex
from services.adapters.llm_fake import FakeChatModel
from services.adapters.store import SqlStore
from services.app.analysis import AnalysisService
from services.app.documents import DocumentService
from services.settings import Settings
from tests.unit.analysis_support import Handle, responder
from tests.unit.test_documents_service import InlineQueue, StubParser, WordCounter


@pytest.fixture
def llm() -> FakeChatModel:
    return FakeChatModel(responder=responder, name="model-a")


@pytest.fixture
def handle(llm: FakeChatModel) -> Handle:
    return Handle(llm)


@pytest.fixture
def queue() -> InlineQueue:
    return InlineQueue()


def document_service(tmp_path: Path, store: SqlStore, queue: InlineQueue) -> DocumentService:
    """A document service over `store` with fakes for everything else, run by `queue`."""
    docs = DocumentService(
        settings=Settings(data_dir=tmp_path),
        store=store,
        blobs=FileBlobStore(tmp_path / "blobs"),
        parser=StubParser(),
        counter=WordCounter(),
        embedder=HashEmbedder(32),
        index=InMemoryIndex(32),
        queue=queue,
        eraser=SqlEraser(store.engine),
    )
    queue.service = docs
    return docs


@pytest.fixture
def docs(tmp_path: Path, queue: InlineQueue) -> Iterator[DocumentService]:
    store = SqlStore(f"sqlite:///{tmp_path / 'test.db'}")
    docs = document_service(tmp_path, store, queue)
    yield docs
    store.close()


@pytest.fixture
def analysis(docs: DocumentService, handle: Handle) -> AnalysisService:
    docs = docs
    return AnalysisService(
        store=docs.store,
        embedder=docs.embedder,  # type: ignore[arg-type]
        index=docs.index,
        counter=docs.counter,
        llm=handle,
        cache=SqlAnalysisCache(docs.store.engine),
    )  # type: ignore[attr-defined]
