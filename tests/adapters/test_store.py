"""One contract for the metadata store, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.errors import Duplicate, NotFound
from pipelines.models import Chunk, Document, DocumentStatus
from services.adapters.store import SqlStore

S = DocumentStatus


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    store = SqlStore(url)
    yield store
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM chunks")
        conn.exec_driver_sql("DELETE FROM documents")
    store.close()


def _doc(doc_id: str, tenant: str = "t1", sha: str = "a") -> Document:
    return Document(id=doc_id, tenant=tenant, filename="f.pdf", sha256=sha * 64, size_bytes=10)


def _chunk(doc_id: str, number: int) -> Chunk:
    return Chunk(
        document_id=doc_id,
        number=number,
        text=f"text {number} 违约金",
        page_start=1,
        page_end=2,
        section_path=["第一条", "1.1"],
        char_start=0,
        char_end=5,
        token_count=3,
    )


def test_documents_are_scoped_to_their_tenant(store: SqlStore) -> None:
    store.add_document(_doc("d1"))
    assert store.get_document("t1", "d1").status is S.QUEUED
    with pytest.raises(NotFound):
        store.get_document("t2", "d1")
    assert store.list_documents("t2") == []
    assert store.find_by_sha256("t1", "a" * 64) is not None
    assert store.find_by_sha256("t2", "a" * 64) is None
    store.add_document(_doc("d2", tenant="t2"))  # same bytes, other tenant: allowed


def test_same_sha_twice_in_a_tenant_is_a_duplicate(store: SqlStore) -> None:
    store.add_document(_doc("d1"))
    with pytest.raises(Duplicate):
        store.add_document(_doc("d2"))


def test_transition_is_conditional(store: SqlStore) -> None:
    store.add_document(_doc("d1"), password="pw")
    assert store.transition("d1", [S.QUEUED], S.PARSING)
    assert not store.transition("d1", [S.QUEUED], S.PARSING)
    assert store.transition("d1", [S.PARSING], S.FAILED, error_code="corrupt", password=None)
    doc = store.get_by_id("d1")
    assert (doc.status, doc.error_code) == (S.FAILED, "corrupt")
    assert store.password_for("d1") is None
    assert store.unfinished_documents() == []


def test_chunks_round_trip_and_are_replaced(store: SqlStore) -> None:
    store.add_document(_doc("d1"))
    store.save_chunks("d1", [_chunk("d1", 0), _chunk("d1", 1)])
    store.save_chunks("d1", [_chunk("d1", 0)])
    assert store.load_chunks("d1") == [_chunk("d1", 0)]
    store.delete_document("d1")
    assert store.load_chunks("d1") == []
    with pytest.raises(NotFound):
        store.get_by_id("d1")


def test_page_starts_are_kept_replaced_and_deleted(store: SqlStore) -> None:
    store.add_document(_doc("d1"))
    assert store.load_page_starts("d1") is None
    store.save_chunks("d1", [_chunk("d1", 0)], [0, 120, 4087])
    assert store.load_page_starts("d1") == [0, 120, 4087]
    store.save_chunks("d1", [_chunk("d1", 0)], [0, 99])
    assert store.load_page_starts("d1") == [0, 99]
    store.delete_document("d1")
    assert store.load_page_starts("d1") is None


def test_progress_updates_and_unfinished(store: SqlStore) -> None:
    store.add_document(_doc("d1"))
    store.add_document(_doc("d2", sha="b"))
    store.update_document("d1", pages_parsed=3, pages_total=9)
    store.transition("d2", [S.QUEUED], S.READY)
    doc = store.get_by_id("d1")
    assert (doc.pages_parsed, doc.pages_total) == (3, 9)
    assert [d.id for d in store.unfinished_documents()] == ["d1"]
    assert store.count_by_status() == {"queued": 1, "ready": 1}
    with pytest.raises(ValueError, match="cannot update"):
        store.update_document("d1", tenant="t2")
