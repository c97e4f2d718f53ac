"""Delete erases a document at every stage, also while a task runs on it (issue 11, defect 5).

Real SQLite (PostgreSQL in tests/adapters/test_postgres_tables.py, which overrides
`store_url`), the embedded Qdrant engine and the file store; the parser, embedder and model
are fakes with hooks, so "while a task runs" is a delete made from inside the task's step
(no timing). After each delete every table of the database (each column of each row), the
SQLite file itself, the index, the blob folder and the analysis cache (a table) are
searched for the document's id, its file name and a sentence of its text: nothing may
remain, while a second document of the same tenant keeps everything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import MetaData, select, text

from pipelines.errors import BackendUnavailable
from pipelines.models import ChatMessage, DocumentStatus, JobStatus, ParsedDocument
from pipelines.ports import PageProgress
from services.adapters.analysis_cache import SqlAnalysisCache
from services.adapters.api_keys import SqlApiKeyStore
from services.adapters.blobs import FileBlobStore
from services.adapters.embedder_fake import HashEmbedder
from services.adapters.erasure import SqlEraser
from services.adapters.jobs import SqlJobStore
from services.adapters.llm_fake import FakeChatModel
from services.adapters.page_usage import SqlPageLedger
from services.adapters.qdrant_edge import EdgeIndex
from services.adapters.reports import SqlReportStore
from services.adapters.store import SqlStore
from services.api.auth import ApiKeyMiddleware
from services.api.errors import install_error_handlers
from services.api.routes import analysis as analysis_routes
from services.api.routes import documents as document_routes
from services.api.routes import jobs as job_routes
from services.app.analysis import AnalysisService
from services.app.auth import KeyService, RateLimiter
from services.app.documents import DocumentService
from services.app.jobs import JobService
from services.app.reports import ReportService
from services.settings import ReportSettings, Settings
from tests.unit.analysis_support import Handle
from tests.unit.test_documents_service import PDF, InlineQueue, StubParser, WordCounter
from tests.unit.test_report_service import Recorder
from tests.unit.test_report_service import responder as scripted

SECRET = "Zephyrine Holdings shall indemnify Quorvath for every undisclosed lawsuit"
FILENAME = "quorvath-merger.pdf"
BODY = " ".join([SECRET] * 3 + ["The Supplier shall be liable without limit."] * 4)
KEEPER = b"Keeper contract. The Supplier shall be liable without limit. Payment in 30 days."
TODAY = datetime.now(UTC).date()


class HookedParser(StubParser):
    """Runs `before` (once) inside the parse, as a delete arriving mid-parse would."""

    def __init__(self) -> None:
        super().__init__()
        self.before: Callable[[], None] | None = None

    def parse(
        self, data: bytes, *, password: str | None = None, on_page: PageProgress | None = None
    ) -> ParsedDocument:
        hook, self.before = self.before, None
        if hook is not None:
            hook()
        return super().parse(data, password=password, on_page=on_page)


class HookedEmbedder(HashEmbedder):
    """Runs the next hook of `hooks` at each batch embedded (a hook may raise)."""

    def __init__(self, dimension: int) -> None:
        super().__init__(dimension)
        self.hooks: list[Callable[[], None]] = []

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        if self.hooks:
            self.hooks.pop(0)()
        return super().embed_documents(texts)


@dataclass
class World:
    tmp: Path
    store: SqlStore
    queue: InlineQueue
    parser: HookedParser
    embedder: HookedEmbedder
    docs: DocumentService
    analysis: AnalysisService
    jobs: JobService
    reports: ReportService
    sent: Recorder
    llm_hooks: list[Callable[[], None]] = field(default_factory=list)

    def upload(self, body: bytes, filename: str = "keeper.pdf") -> str:
        return self.docs.upload("t1", filename, PDF + body).document.id

    def ready(self, body: bytes, filename: str = "keeper.pdf") -> str:
        document_id = self.upload(body, filename)
        self.queue.drain()
        assert self.docs.get("t1", document_id).status is DocumentStatus.READY
        return document_id

    def run_jobs(self) -> None:
        while self.sent.jobs:
            self.jobs.run(self.sent.jobs.pop(0))


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'docsight.db'}"


@pytest.fixture
def world(tmp_path: Path, store_url: str) -> Iterator[World]:
    settings = Settings(data_dir=tmp_path)
    settings.embedder.batch_size = 1
    settings.chunking.max_tokens = 24
    store = SqlStore(store_url)
    index = EdgeIndex(tmp_path / "index" / "documents", 32, optimize_idle_s=None)
    queue, parser, embedder, sent = InlineQueue(), HookedParser(), HookedEmbedder(32), Recorder()
    hooks: list[Callable[[], None]] = []

    def respond(messages: list[ChatMessage]) -> str:
        if hooks:
            hooks.pop(0)()
        return scripted(messages)

    analysis = AnalysisService(
        store=store,
        embedder=embedder,
        index=index,
        counter=WordCounter(),
        cache=SqlAnalysisCache(store.engine),
        llm=Handle(FakeChatModel(responder=respond, name="model-a")),
    )
    docs = DocumentService(
        settings=settings,
        store=store,
        blobs=FileBlobStore(tmp_path / "blobs"),
        parser=parser,
        counter=WordCounter(),
        embedder=embedder,
        index=index,
        queue=queue,
        pages=SqlPageLedger(store.engine),
        cache=analysis.cache,
        eraser=SqlEraser(store.engine),
    )
    queue.service = docs
    jobs = JobService(jobs=SqlJobStore(store.engine), analysis=analysis, queue=sent)
    reports = ReportService(
        store=store,
        reports=SqlReportStore(store.engine),
        analysis=analysis,
        jobs=jobs,
        queue=sent,
        settings=ReportSettings(summary_max_pages=0, risks_for="all", max_documents=0),
    )
    yield World(
        tmp_path, store, queue, parser, embedder, docs, analysis, jobs, reports, sent, hooks
    )
    index.close()
    if store.engine.dialect.name != "sqlite":  # a shared server: the next test starts clean
        tables = MetaData()
        tables.reflect(store.engine)
        with store.engine.begin() as conn:
            for table in reversed(tables.sorted_tables):
                conn.execute(table.delete())
    store.close()


def leftovers(world: World, document_id: str) -> list[str]:
    """Where the document's id, file name or text can still be found."""
    needles = (document_id, FILENAME, SECRET)
    found: list[str] = []
    engine = world.store.engine
    tables = MetaData()
    tables.reflect(engine)  # every table there is, not only those the code knows
    with engine.begin() as conn:
        for table in tables.sorted_tables:
            for row in conn.execute(select(table)):
                for value in row:
                    seen = value.decode("latin-1") if isinstance(value, bytes) else str(value)
                    found += [f"table {table.name}: {n[:30]}" for n in needles if n in seen]
    if engine.dialect.name == "sqlite":  # freed pages too (secure_delete), once checkpointed
        with engine.begin() as conn:
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        db = Path(str(engine.url.database))
        raw = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
        found += [f"database file: {n[:30]}" for n in needles if n.encode() in raw]
    for path in (world.tmp / "blobs").rglob("*"):
        if document_id in path.name:
            found.append(f"blob {path.name}")
        if path.is_file() and SECRET.encode() in path.read_bytes():
            found.append(f"blob content {path.name}")
    points = world.docs.index.count(document_id=document_id)
    if points:
        found.append(f"index: {points} points")
    index, known = world.docs.index, world.docs.store.list_documents("t1")
    if index.count(tenant="t1") != sum(index.count(document_id=d.id) for d in known):
        found.append("index: points of no stored document")
    return found


def analyse(world: World, document_id: str) -> None:
    """Summary and risk jobs run, a question asked, the day's report built."""
    for kind in ("summary", "risks"):
        world.jobs.submit("t1", kind, document_id)  # type: ignore[arg-type]
    world.run_jobs()
    world.analysis.ask("t1", "Who shall indemnify whom for lawsuits?")
    step = world.reports.step("t1", TODAY)
    world.run_jobs()
    assert step.record is not None
    assert step.record.report is not None


def test_delete_while_queued_leaves_nothing(world: World) -> None:
    keeper = world.ready(KEEPER)
    doc = world.upload(BODY.encode(), FILENAME)
    world.docs.delete("t1", doc)
    world.queue.drain()  # the parse message arrives after the delete
    assert leftovers(world, doc) == []
    assert world.docs.get("t1", keeper).status is DocumentStatus.READY


def test_delete_while_parsing_writes_no_chunks_or_page_offsets_back(world: World) -> None:
    doc = world.upload(BODY.encode(), FILENAME)
    world.parser.before = lambda: world.docs.delete("t1", doc)
    world.queue.drain()
    assert leftovers(world, doc) == []


def test_delete_while_indexing_leaves_no_points_even_when_the_task_then_fails(
    world: World,
) -> None:
    doc = world.upload(BODY.encode(), FILENAME)
    world.docs.run_parse(doc)
    assert len(world.docs.store.load_chunks(doc)) > 1
    world.queue.pending.clear()

    def broker_down() -> None:
        raise BackendUnavailable("embedder went away")

    world.embedder.hooks = [lambda: None, lambda: world.docs.delete("t1", doc), broker_down]
    with pytest.raises(BackendUnavailable):
        world.docs.run_index(doc)  # points of the first batch were written before the delete
    world.docs.run_index(doc)  # the retry finds no document
    assert leftovers(world, doc) == []


def test_delete_when_ready_erases_rows_jobs_cache_answers_and_report_entries(
    world: World,
) -> None:
    keeper = world.ready(KEEPER)
    doc = world.ready(BODY.encode(), FILENAME)
    analyse(world, doc)
    assert leftovers(world, doc)  # the scan sees it before
    record = world.reports.get("t1", TODAY)
    assert record is not None
    assert record.report is not None
    assert {e.document_id for e in record.report.documents} == {doc, keeper}
    done = [j for j in world.jobs.list("t1") if j.document_id == doc]
    assert done
    assert all(j.status is JobStatus.DONE for j in done)

    world.docs.delete("t1", doc)

    assert leftovers(world, doc) == []
    record = world.reports.get("t1", TODAY)
    assert record is not None
    assert record.report is not None
    assert [e.document_id for e in record.report.documents] == [keeper]
    assert record.report.total_documents == 1
    assert [j.document_id for j in world.jobs.list("t1")] == [keeper, keeper]
    assert world.analysis.cached_summary("t1", keeper) is not None


def test_delete_while_an_analysis_job_runs_keeps_nothing_it_computes(world: World) -> None:
    doc = world.ready(BODY.encode(), FILENAME)
    job = world.jobs.submit("t1", "summary", doc)
    world.llm_hooks.append(lambda: world.docs.delete("t1", doc))  # at its first model call
    world.run_jobs()
    assert world.jobs.jobs.find(job.id) is None
    assert leftovers(world, doc) == []


def test_delete_while_a_report_is_built_keeps_the_document_out_of_it(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keeper = world.ready(KEEPER)
    doc = world.ready(BODY.encode(), FILENAME)
    analyse(world, doc)
    original = world.analysis.cached_summary

    def deleting(tenant: str, document_id: str) -> object:
        if document_id == doc and doc in world.docs.store.existing_ids([doc]):
            world.docs.delete("t1", doc)  # after the build read the day's documents
        return original(tenant, document_id)

    monkeypatch.setattr(world.analysis, "cached_summary", deleting)
    world.reports.step("t1", TODAY)
    record = world.reports.get("t1", TODAY)
    assert record is not None
    assert record.report is not None
    assert [e.document_id for e in record.report.documents] == [keeper]
    assert leftovers(world, doc) == []


def test_a_delete_cut_short_is_finished_by_the_next_one_and_on_start(world: World) -> None:
    doc = world.ready(BODY.encode(), FILENAME)
    other = world.ready(b"Another contract with its own terms.")
    index = world.docs.index
    calls: list[str] = []

    def down(tenant: str, document_id: str) -> None:
        calls.append(document_id)
        raise BackendUnavailable("index server unreachable")

    real = index.delete_document
    index.delete_document = down  # type: ignore[method-assign]
    for document_id in (doc, other):
        with pytest.raises(BackendUnavailable):
            world.docs.delete("t1", document_id)
    index.delete_document = real  # type: ignore[method-assign]
    assert calls == [doc, other]
    world.docs.delete("t1", doc)  # the client's retry: no 404, the erasure is finished
    assert index.count(document_id=doc) == 0
    assert index.count(document_id=other) > 0
    world.docs.resume_unfinished()  # a restart finishes the other
    assert leftovers(world, doc) == []
    assert leftovers(world, other) == []
    assert index.count(document_id=other) == 0
    assert world.docs.eraser.pending() == []


def test_a_report_build_asks_no_analysis_of_a_document_deleted_meanwhile(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keeper = world.ready(KEEPER)
    doc = world.ready(BODY.encode(), FILENAME)
    original = world.analysis.cached_summary

    def deleting(tenant: str, document_id: str) -> object:
        if document_id == doc and doc in world.docs.store.existing_ids([doc]):
            world.docs.delete("t1", doc)  # before the build submits its jobs
        return original(tenant, document_id)

    monkeypatch.setattr(world.analysis, "cached_summary", deleting)
    step = world.reports.step("t1", TODAY)
    assert step.record is not None
    assert step.record.status == "building"
    assert {j.document_id for j in world.jobs.list("t1")} == {keeper}
    world.run_jobs()
    assert leftovers(world, doc) == []


def test_a_deleted_documents_job_results_are_gone_from_the_api(world: World) -> None:
    keys = KeyService(SqlApiKeyStore(world.store.engine), cache_s=0)
    _, key = keys.create("t1", "test")
    app = FastAPI()
    app.state.settings = Settings(data_dir=world.tmp)
    app.state.runtime = SimpleNamespace(keys=keys, limiter=RateLimiter(0))
    app.state.container = SimpleNamespace(
        documents=world.docs, analysis=world.analysis, jobs=world.jobs
    )
    install_error_handlers(app)
    app.add_middleware(ApiKeyMiddleware)
    for module in (document_routes, analysis_routes, job_routes):
        app.include_router(module.router)
    doc = world.ready(BODY.encode(), FILENAME)
    summary = world.jobs.submit("t1", "summary", doc)
    risks = world.jobs.submit("t1", "risks", doc)
    world.run_jobs()
    with TestClient(app, headers={"X-API-Key": key}) as client:
        assert client.get(f"/v1/jobs/{summary.id}").json()["status"] == "done"
        assert client.post(f"/v1/documents/{doc}/summary").status_code == 200  # cached
        assert client.delete(f"/v1/documents/{doc}").status_code == 204
        for job in (summary, risks):
            assert client.get(f"/v1/jobs/{job.id}").status_code == 404
        assert client.get("/v1/jobs").json()["jobs"] == []
        assert client.post(f"/v1/documents/{doc}/summary").status_code == 404
        assert client.post(f"/v1/documents/{doc}/risks?refresh=true").status_code == 404
        assert client.delete(f"/v1/documents/{doc}").status_code == 404
    assert leftovers(world, doc) == []
