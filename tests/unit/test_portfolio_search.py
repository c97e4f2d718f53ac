"""Portfolio search: kind and metadata of documents, filters, de-duplication and group_by,
with the in-memory index, the hash embedder and SQLite (fixtures in conftest.py)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import delete

from pipelines.errors import NotFound
from pipelines.models import DocumentStatus
from pipelines.portfolio import DocumentFilter, Metadata
from services.adapters.store import SqlStore, document_meta
from services.api.schemas import SearchIn
from services.app.documents import DocumentService
from services.app.search import Hit, search
from tests.unit.test_documents_service import PDF, InlineQueue

CONTRACT = (
    b"This Supply Agreement is made between the parties hereto. Either party may "
    b"terminate on a change of control of the other party. Non-compete: the "
    b"supplier shall not compete for two years. " * 12
)  # several chunks
REPORT = (
    b"Annual Report 2024. Form 10-K. Risk factors, consolidated balance sheet, "
    b"shareholders. Change of control of the company did not occur. " * 12
)


class SpyIndex:
    """The fixture's index, counting searches and keeping the document filter asked for."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[list[str] | None] = []

    def search(self, **kwargs: Any) -> Any:
        ids = kwargs.get("document_ids")
        self.calls.append(None if ids is None else list(ids))
        return self.inner.search(**kwargs)


def _ingest(
    docs: DocumentService,
    queue: InlineQueue,
    name: str,
    body: bytes,
    metadata: dict[str, str] | None = None,
    tenant: str = "t1",
) -> str:
    document_id = docs.upload(tenant, name, PDF + body, metadata=metadata).document.id
    queue.drain()
    assert docs.get(tenant, document_id).status is DocumentStatus.READY
    return document_id


@pytest.fixture
def portfolio(docs: DocumentService, queue: InlineQueue) -> dict[str, str]:
    """Two contracts (one with metadata) and an annual report of tenant t1."""
    return {
        "a": _ingest(
            docs,
            queue,
            "a.pdf",
            CONTRACT + b" Acme edition.",
            {"counterparty": "Acme", "region": "EU", "区域": "华东"},
        ),
        "b": _ingest(docs, queue, "b.pdf", CONTRACT + b" Beta edition.", {"region": "US"}),
        "report": _ingest(docs, queue, "report.pdf", REPORT),
    }


def _search(
    docs: DocumentService, query: str = "change of control", *, index: Any = None, **filters: Any
) -> list[Hit]:
    options = {k: filters.pop(k) for k in ("limit", "group_by") if k in filters}
    return search(
        query,
        tenant="t1",
        where=DocumentFilter(**filters),
        store=docs.store,
        embedder=docs.embedder,  # type: ignore[arg-type]
        index=index or docs.index,
        **options,
    )


def test_kind_metadata_and_upload_time_are_kept(
    docs: DocumentService, portfolio: dict[str, str]
) -> None:
    described = {doc.id: facts for doc, facts in docs.list_described("t1")}
    assert described[portfolio["a"]].kind == "contract"
    assert described[portfolio["report"]].kind == "annual_report"
    assert described[portfolio["a"]].metadata == {
        "counterparty": "Acme",
        "region": "EU",
        "区域": "华东",
    }
    assert described[portfolio["report"]].metadata == {}
    created = described[portfolio["a"]].created_at
    assert created is not None
    assert created.tzinfo is not None
    assert abs(datetime.now(UTC) - created) < timedelta(minutes=1)
    _, facts = docs.describe("t1", portfolio["b"])
    assert facts.metadata == {"region": "US"}
    with pytest.raises(NotFound):
        docs.describe("t2", portfolio["b"])


def test_kind_is_known_once_indexed_and_metadata_at_upload(
    docs: DocumentService, queue: InlineQueue
) -> None:
    upload = docs.upload("t1", "c.pdf", PDF + CONTRACT, metadata={"deal": "x"})
    assert (upload.facts.kind, upload.facts.metadata) == (None, {"deal": "x"})
    queue.drain()
    assert docs.describe("t1", upload.document.id)[1].kind == "contract"
    # The same file again with metadata replaces it; without, keeps it.
    again = docs.upload("t1", "c2.pdf", PDF + CONTRACT, metadata={"deal": "y"})
    assert again.duplicate
    assert (again.facts.kind, again.facts.metadata) == ("contract", {"deal": "y"})
    assert docs.upload("t1", "c3.pdf", PDF + CONTRACT).facts.metadata == {"deal": "y"}


def test_delete_removes_kind_and_metadata(docs: DocumentService, queue: InlineQueue) -> None:
    document_id = _ingest(docs, queue, "a.pdf", CONTRACT, {"k": "v"})
    docs.delete("t1", document_id)
    store: SqlStore = docs.store  # type: ignore[assignment]
    with store.engine.connect() as conn:
        assert conn.execute(document_meta.select()).all() == []


def test_documents_indexed_before_kinds_get_theirs_on_resume(
    docs: DocumentService, portfolio: dict[str, str]
) -> None:
    store: SqlStore = docs.store  # type: ignore[assignment]
    with store.engine.begin() as conn:
        conn.execute(delete(document_meta))
    assert sorted(store.ready_without_kind()) == sorted(portfolio.values())
    assert docs.resume_unfinished() == 0
    kinds = {doc.id: facts.kind for doc, facts in docs.list_described("t1")}
    assert kinds[portfolio["report"]] == "annual_report"
    assert kinds[portfolio["a"]] == kinds[portfolio["b"]] == "contract"


def test_group_by_document_gives_each_document_once_best_first(
    docs: DocumentService, portfolio: dict[str, str]
) -> None:
    by_chunk = _search(docs, limit=50)
    assert len({h.passage.chunk.document_id for h in by_chunk}) < len(by_chunk)  # repeats
    by_document = _search(docs, group_by="document", limit=10)
    ids = [h.passage.chunk.document_id for h in by_document]
    assert sorted(ids) == sorted(portfolio.values())
    scores = [h.passage.score for h in by_document]
    assert scores == sorted(scores, reverse=True)
    best = {}
    for hit in by_chunk:
        best.setdefault(hit.passage.chunk.document_id, hit.passage.score)
    assert [best[i] for i in ids] == pytest.approx(scores)  # ranked by its best passage
    assert len(_search(docs, group_by="document", limit=2)) == 2
    hit = by_document[0]
    assert hit.document.filename.endswith(".pdf")
    assert hit.facts.kind in ("contract", "annual_report")


def test_kind_filter(docs: DocumentService, portfolio: dict[str, str]) -> None:
    reports = _search(docs, kind="annual_report", group_by="document")
    assert [h.passage.chunk.document_id for h in reports] == [portfolio["report"]]
    assert reports[0].facts.kind == "annual_report"
    contracts = {h.passage.chunk.document_id for h in _search(docs, kind="contract", limit=50)}
    assert contracts == {portfolio["a"], portfolio["b"]}


def test_metadata_filter_matches_every_given_key_exactly(
    docs: DocumentService, portfolio: dict[str, str]
) -> None:
    def found(metadata: dict[str, str]) -> set[str]:
        return {h.passage.chunk.document_id for h in _search(docs, metadata=metadata, limit=50)}

    assert found({"region": "EU"}) == {portfolio["a"]}
    assert found({"region": "EU", "counterparty": "Acme"}) == {portfolio["a"]}
    assert found({"region": "EU", "counterparty": "Beta"}) == set()
    assert found({"region": "eu"}) == set()  # exact, case included
    assert found({"区域": "华东"}) == {portfolio["a"]}
    assert found({"nobody": "x"}) == set()


def test_upload_time_filter(docs: DocumentService, queue: InlineQueue) -> None:
    first = _ingest(docs, queue, "a.pdf", CONTRACT + b" one")
    time.sleep(0.01)
    between = datetime.now(UTC)
    time.sleep(0.01)
    second = _ingest(docs, queue, "b.pdf", CONTRACT + b" two")

    def found(**filters: Any) -> set[str]:
        return {h.passage.chunk.document_id for h in _search(docs, limit=50, **filters)}

    assert found(uploaded_after=between) == {second}
    assert found(uploaded_before=between) == {first}
    in_tokyo = between.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Tokyo"))
    assert found(uploaded_before=in_tokyo) == {first}  # any offset, compared in UTC
    assert found(uploaded_after=between, uploaded_before=between) == set()


def test_empty_match_answers_nothing_without_searching(
    docs: DocumentService, portfolio: dict[str, str]
) -> None:
    spy = SpyIndex(docs.index)
    assert _search(docs, index=spy, metadata={"region": "Mars"}) == []
    assert _search(docs, index=spy, document_ids=[]) == []
    assert spy.calls == []
    _search(docs, index=spy)  # no filter: the whole tenant, no id list
    _search(docs, index=spy, kind="contract")
    assert spy.calls == [None, sorted([portfolio["a"], portfolio["b"]])]


def test_document_ids_are_deduplicated_intersected_and_checked(
    docs: DocumentService, queue: InlineQueue, portfolio: dict[str, str]
) -> None:
    spy = SpyIndex(docs.index)
    a, b, report = portfolio["a"], portfolio["b"], portfolio["report"]
    _search(docs, index=spy, document_ids=[b, a, b, a, report], kind="contract")
    assert spy.calls == [[b, a]]  # once each, in the given order, filtered by kind
    hits = _search(docs, document_ids=[report, report], group_by="document")
    assert [h.passage.chunk.document_id for h in hits] == [report]
    with pytest.raises(NotFound):
        _search(docs, document_ids=[a, "no-such-id"])
    other = _ingest(docs, queue, "x.pdf", CONTRACT + b" other tenant", tenant="t2")
    with pytest.raises(NotFound):
        _search(docs, document_ids=[other])
    # Not ready yet: known (no 404) but not searched.
    queued = docs.upload("t1", "q.pdf", PDF + CONTRACT + b" queued").document.id
    assert _search(docs, index=spy, document_ids=[queued]) == []


def test_metadata_is_validated_and_bounded() -> None:
    adapter = TypeAdapter(Metadata)
    assert adapter.validate_json('{"counterparty": "Acme", "客户": "平安"}') == {
        "counterparty": "Acme",
        "客户": "平安",
    }
    for bad in (
        '{"k": 1}',
        '{"k": {"n": "v"}}',
        '["k"]',
        '{"": "v"}',
        '{"a\\"b": "v"}',
        '{"k": "line\\u0000"}',
        "not json",
        '{"' + "k" * 65 + '": "v"}',
        '{"k": "' + "v" * 257 + '"}',
        "{" + ", ".join(f'"k{i}": "v"' for i in range(33)) + "}",
    ):
        with pytest.raises(ValidationError):
            adapter.validate_json(bad)
    assert (
        len(adapter.validate_json("{" + ", ".join(f'"k{i}": "v"' for i in range(32)) + "}")) == 32
    )


def test_search_body_bounds_ids_and_wants_aware_times() -> None:
    assert SearchIn(query="q", document_ids=["a"] * 1000).where().document_ids == ["a"]
    with pytest.raises(ValidationError):
        SearchIn(query="q", document_ids=["a"] * 1001)
    with pytest.raises(ValidationError):
        SearchIn(query="q", uploaded_after=datetime(2025, 1, 1))  # noqa: DTZ001 - the point
    body = SearchIn(
        query="q",
        uploaded_after="2025-01-01T00:00:00+08:00",
        kind="contract",
        metadata={"region": "EU"},
        group_by="document",
    )
    where = body.where()
    assert where.uploaded_after == datetime(2024, 12, 31, 16, tzinfo=UTC)
    assert (where.kind, where.metadata) == ("contract", {"region": "EU"})
    with pytest.raises(ValidationError):
        SearchIn(query="q", kind="memo")
