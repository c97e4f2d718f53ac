"""VersionService on SQLite (`SqlDocumentVersions`) with the stub parser: a new version is
linked and described with its previous id, the chain is oldest first, the same file as the
previous version and cycles are refused, another tenant's document is unknown, and
deleting a document unlinks the versions that named it."""

from __future__ import annotations

import pytest

from pipelines.errors import Duplicate, NotFound
from services.adapters.document_versions import SqlDocumentVersions
from services.app.documents import DocumentService
from services.app.versions import VersionService
from tests.unit.test_documents_service import PDF, InlineQueue


@pytest.fixture
def versions(docs: DocumentService) -> VersionService:
    return VersionService(documents=docs, versions=SqlDocumentVersions(docs.store.engine))


def _upload(docs: DocumentService, body: bytes, tenant: str = "t1") -> str:
    return docs.upload(tenant, "v1.pdf", PDF + body).document.id


def test_new_version_is_linked_and_chained(
    docs: DocumentService, versions: VersionService, queue: InlineQueue
) -> None:
    first = _upload(docs, b"first draft")
    second = versions.upload("t1", first, "v2.pdf", PDF + b"second draft")
    assert second.facts.previous_id == first
    assert not second.duplicate
    third = versions.upload("t1", second.document.id, "v3.pdf", PDF + b"third draft")
    queue.drain()
    ids = [first, second.document.id, third.document.id]
    for member in ids:  # the same chain from any of its documents, oldest first
        assert [d.id for d, _ in versions.chain("t1", member)] == ids
    facts = {d.id: f for d, f in docs.store.describe_documents("t1", document_ids=ids)}
    assert [facts[i].previous_id for i in ids] == [None, first, second.document.id]
    assert versions.versions.previous_of("t1", third.document.id) == second.document.id


def test_refused_versions(docs: DocumentService, versions: VersionService) -> None:
    first = _upload(docs, b"first draft")
    with pytest.raises(Duplicate, match="same as document"):
        versions.upload("t1", first, "again.pdf", PDF + b"first draft")
    with pytest.raises(NotFound):
        versions.upload("t1", "no-such-id", "v2.pdf", PDF + b"second")
    theirs = _upload(docs, b"their draft", tenant="t2")
    with pytest.raises(NotFound):
        versions.upload("t1", theirs, "v2.pdf", PDF + b"second")
    with pytest.raises(NotFound):
        versions.chain("t1", theirs)
    second = versions.upload("t1", first, "v2.pdf", PDF + b"second draft").document.id
    with pytest.raises(Duplicate, match="earlier version"):
        versions.versions.link("t1", first, second)  # would make a cycle
    assert [d.id for d, _ in versions.chain("t1", first)] == [first, second]


def test_deleting_a_version_unlinks_the_next(
    docs: DocumentService, versions: VersionService
) -> None:
    first = _upload(docs, b"first draft")
    second = versions.upload("t1", first, "v2.pdf", PDF + b"second draft").document.id
    third = versions.upload("t1", second, "v3.pdf", PDF + b"third draft").document.id
    docs.delete("t1", second)
    assert versions.versions.previous_of("t1", third) is None
    assert docs.describe("t1", third)[1].previous_id is None
    assert [d.id for d, _ in versions.chain("t1", third)] == [third]
    assert [d.id for d, _ in versions.chain("t1", first)] == [first]
