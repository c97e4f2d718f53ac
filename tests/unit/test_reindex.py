"""`docsight reindex` with fakes: a tenant moves from one embedder's collection to another's
(hash embedders of 32 and 48 dimensions) while search keeps answering from the old one;
uploads and deletes made during the move reach both; a failure leaves the tenant where it
was; a move cut short is resumed and completes."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pipelines.models import DocumentStatus
from pipelines.portfolio import DocumentFilter
from services.adapters.blobs import FileBlobStore
from services.adapters.embedder_fake import HashEmbedder
from services.adapters.erasure import SqlEraser
from services.adapters.index_catalog import SqlIndexCatalog
from services.adapters.index_fake import InMemoryIndex
from services.adapters.store import SqlStore
from services.app.documents import DocumentService
from services.app.index_routes import IndexRoutes, slug
from services.app.ports import EmbedderSpec
from services.app.reindex import ReindexService
from services.app.search import search
from services.settings import Settings
from tests.unit.test_documents_service import PDF, InlineQueue, StubParser, WordCounter

OLD = EmbedderSpec(kind="hash", model="32", dimension=32)
NEW = EmbedderSpec(kind="hash", model="48", dimension=48)


class Embedder(HashEmbedder):
    """Counts the texts it embeds; `hold` blocks each call until set; `fail` raises."""

    def __init__(self, dimension: int) -> None:
        super().__init__(dimension)
        self.texts = 0
        self.calls = threading.Event()  # set on the first call
        self.hold: threading.Event | None = None
        self.fail: BaseException | None = None

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.set()
        if self.hold is not None:
            assert self.hold.wait(10)
        if self.fail is not None:
            raise self.fail
        self.texts += len(texts)
        return super().embed_documents(texts)


class Queue(InlineQueue):
    def __init__(self) -> None:
        super().__init__()
        self.reindexes: list[str] = []

    def enqueue_reindex(self, tenant: str) -> None:
        self.reindexes.append(tenant)


@dataclass
class World:
    """One deployment's store and collections; `deploy` starts it with an embedder."""

    tmp_path: Path
    store: SqlStore
    indexes: dict[str, InMemoryIndex] = field(default_factory=dict)
    embedders: dict[int, Embedder] = field(default_factory=dict)
    queue: Queue = field(default_factory=Queue)
    docs: DocumentService | None = None
    routes: IndexRoutes | None = None
    reindex: ReindexService | None = None

    def embedder(self, dimension: int) -> Embedder:
        return self.embedders.setdefault(dimension, Embedder(dimension))

    def index(self, name: str, dimension: int) -> InMemoryIndex:
        return self.indexes.setdefault(name, InMemoryIndex(dimension))

    def deploy(self, spec: EmbedderSpec) -> None:
        settings = Settings(data_dir=self.tmp_path)
        settings.embedder.batch_wait_s = 0.0
        self.routes = IndexRoutes(
            catalog=SqlIndexCatalog(self.store.engine),
            first="chunks",
            current=spec,
            embedder=self.embedder(spec.dimension),
            open_embedder=lambda recorded: self.embedder(recorded.dimension),
            open_index=self.index,
            wait_s=0.0,
        )
        self.docs = DocumentService(
            settings=settings,
            store=self.store,
            blobs=FileBlobStore(self.tmp_path / "blobs"),
            parser=StubParser(),
            counter=WordCounter(),
            embedder=self.embedder(spec.dimension),
            index=self.routes.current().index,
            queue=self.queue,
            eraser=SqlEraser(self.store.engine),
            routes=self.routes,
        )
        self.queue.service = self.docs
        self.reindex = ReindexService(
            store=self.store,
            catalog=SqlIndexCatalog(self.store.engine),
            routes=self.routes,
            queue=self.queue,
        )

    def upload(self, text: str, tenant: str = "t1") -> str:
        assert self.docs is not None
        document_id = self.docs.upload(tenant, f"{text[:8]}.pdf", PDF + text.encode()).document.id
        self.queue.drain()
        assert self.docs.get(tenant, document_id).status is DocumentStatus.READY
        return document_id

    def search(self, query: str, tenant: str = "t1") -> str | None:
        """The best hit's document id, through the tenant's route (as the API does)."""
        assert self.routes is not None
        route = self.routes.for_search(tenant)
        hits = search(
            query,
            tenant=tenant,
            where=DocumentFilter(),
            store=self.store,
            embedder=route.embedder,
            index=route.index,
        )
        return hits[0].document.id if hits else None

    def points(self, name: str, document_id: str) -> int:
        return self.indexes[name].count(document_id=document_id)


NEW_NAME = f"chunks__{slug(NEW)}"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    store = SqlStore(f"sqlite:///{tmp_path / 'test.db'}")
    world = World(tmp_path, store)
    world.deploy(OLD)
    yield world
    assert world.routes is not None
    world.routes.close_batches()
    store.close()


def _restarted_with_new_embedder(world: World) -> tuple[str, str]:
    """Two documents indexed with OLD, then the deployment restarted with NEW."""
    lease = world.upload("lease agreement: the tenant pays rent monthly")
    loan = world.upload("loan agreement: the borrower repays the principal")
    assert world.routes is not None
    world.routes.close_batches()
    world.deploy(NEW)
    return lease, loan


def test_collections_are_named_by_embedder_and_the_first_keeps_its_own(world: World) -> None:
    assert slug(NEW) == "hash-48"
    assert slug(EmbedderSpec("openai", "Qwen/Qwen3-Embedding-0.6B", 1024)) == (
        "openai-qwen-qwen3-embedding-0-6b-1024"
    )
    assert slug(EmbedderSpec("use-onnx", None, 512)) == "use-onnx-512"
    lease, _ = _restarted_with_new_embedder(world)
    assert world.routes is not None
    assert world.routes.current_collection == NEW_NAME
    route = world.routes.for_search("t1")  # no row: the first collection, its own embedder
    assert (route.collection, route.embedder.dimension) == ("chunks", 32)
    assert world.search("rent") == lease
    assert world.reindex is not None
    state = world.reindex.state("t1")
    assert (state.state, state.collection, state.embedder, state.up_to_date) == (
        "none",
        "chunks",
        OLD,
        False,
    )


def test_search_answers_from_the_old_collection_until_the_move_switches(world: World) -> None:
    lease, loan = _restarted_with_new_embedder(world)
    assert world.reindex is not None
    assert world.reindex.start("t1").state == "moving"
    assert world.queue.reindexes == ["t1"]
    new = world.embedder(48)
    new.hold = threading.Event()
    move = threading.Thread(target=world.reindex.run, args=("t1",))
    move.start()
    try:
        assert new.calls.wait(10)  # the move is embedding into the new collection
        assert world.search("rent") == lease  # meanwhile: the old collection answers
        assert world.routes is not None
        assert world.routes.for_search("t1").collection == "chunks"
        assert world.reindex.state("t1").state == "moving"
    finally:
        new.hold.set()
        move.join(10)
    state = world.reindex.state("t1")
    assert (state.state, state.collection, state.up_to_date) == ("done", NEW_NAME, True)
    assert (state.documents_done, state.documents_total) == (2, 2)
    assert world.routes.for_search("t1").embedder.dimension == 48
    assert world.search("rent") == lease
    assert world.search("principal") == loan
    for document_id in (lease, loan):  # all in the new collection, none left in the old
        assert world.points(NEW_NAME, document_id) >= 1
        assert world.points("chunks", document_id) == 0
    assert world.reindex.start("t1").state == "done"  # already there: nothing sent
    assert world.queue.reindexes == ["t1"]


def test_another_tenant_stays_on_the_old_collection(world: World) -> None:
    other = world.upload("supply agreement: the supplier delivers goods", tenant="t2")
    _restarted_with_new_embedder(world)
    assert world.reindex is not None
    world.reindex.start("t1")
    world.reindex.run("t1")
    assert world.search("goods", tenant="t2") == other
    assert world.points("chunks", other) >= 1
    assert world.reindex.state("t2").state == "none"


def test_uploads_and_deletes_during_the_move_reach_both_collections(world: World) -> None:
    lease, loan = _restarted_with_new_embedder(world)
    assert world.reindex is not None
    assert world.docs is not None
    world.reindex.start("t1")  # marked moving; the worker has not run the move yet
    during = world.upload("share purchase agreement: the buyer acquires the shares")
    assert world.points("chunks", during) >= 1
    assert world.points(NEW_NAME, during) == world.points("chunks", during)
    assert world.search("shares") == during  # still searched in the old collection
    world.reindex.run("t1")
    world.docs.delete("t1", loan)  # (after the copy) gone from the new collection too
    assert world.points(NEW_NAME, loan) == 0
    assert world.search("shares") == during
    assert world.search("rent") == lease
    assert world.search("principal") != loan


def test_a_document_deleted_during_the_move_leaves_no_points(world: World) -> None:
    _, loan = _restarted_with_new_embedder(world)
    assert world.reindex is not None
    assert world.docs is not None
    world.reindex.start("t1")
    world.docs.delete("t1", loan)
    world.reindex.run("t1")
    assert world.points("chunks", loan) == 0
    assert world.points(NEW_NAME, loan) == 0
    assert world.reindex.state("t1").documents_total == 1


def test_a_failure_leaves_the_tenant_on_its_old_collection(world: World) -> None:
    lease, _ = _restarted_with_new_embedder(world)
    assert world.reindex is not None
    assert world.routes is not None
    new = world.embedder(48)
    new.fail = RuntimeError("embedding server went away")
    world.reindex.start("t1")
    world.reindex.run("t1")
    state = world.reindex.state("t1")
    assert (state.state, state.collection) == ("failed", "chunks")
    assert state.reason == "embedding server went away"
    assert world.search("rent") == lease
    assert [r.collection for r in world.routes.for_writes("t1")] == ["chunks"]  # no longer both
    new.fail = None
    world.reindex.start("t1")  # tried again
    world.reindex.run("t1")
    state = world.reindex.state("t1")
    assert (state.state, state.collection, state.error_code) == ("done", NEW_NAME, None)
    assert world.search("rent") == lease


class Crash(BaseException):
    """The worker process dying mid-move (nothing of the move's own handling runs)."""


def test_a_move_cut_short_is_resumed_and_completes(world: World) -> None:
    lease, loan = _restarted_with_new_embedder(world)
    assert world.reindex is not None
    new = world.embedder(48)
    world.reindex.start("t1")
    calls = 0
    real = new.embed_documents

    def crash_on_second(texts: Sequence[str]) -> list[list[float]]:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise Crash
        return real(texts)

    new.embed_documents = crash_on_second  # type: ignore[method-assign]
    with pytest.raises(Crash):
        world.reindex.run("t1")
    state = world.reindex.state("t1")
    assert (state.state, state.collection, state.documents_done) == ("moving", "chunks", 1)
    assert world.search("rent") == lease
    embedded = new.texts
    del new.embed_documents  # the restarted worker's embedder works
    world.queue.reindexes.clear()
    assert world.reindex.resume_unfinished() == 1  # on start: sent again from the row
    assert world.queue.reindexes == ["t1"]
    world.reindex.run("t1")
    state = world.reindex.state("t1")
    assert (state.state, state.collection) == ("done", NEW_NAME)
    assert new.texts - embedded == world.points(NEW_NAME, loan)  # the first one was kept
    assert world.search("principal") == loan
    assert world.reindex.resume_unfinished() == 0


def test_a_move_whose_message_was_lost_is_sent_again_by_the_sweep(world: World) -> None:
    _restarted_with_new_embedder(world)
    reindex = world.reindex
    assert reindex is not None
    reindex.start("t1")
    world.queue.reindexes.clear()
    assert reindex.resend_stuck(idle_for_s=3600) == 0  # its row moved just now
    assert reindex.resend_stuck(idle_for_s=0) == 1
    assert world.queue.reindexes == ["t1"]
    reindex.run("t1")
    assert reindex.resend_stuck(idle_for_s=0) == 0  # done: nothing to send


def test_a_new_tenant_starts_on_the_configured_embedder(world: World) -> None:
    _restarted_with_new_embedder(world)  # t1 has documents: it stays on the first
    fresh = world.upload("licence agreement: the licensee pays royalties", tenant="t3")
    assert world.routes is not None
    assert world.reindex is not None
    assert world.routes.for_search("t3").collection == NEW_NAME
    assert world.points(NEW_NAME, fresh) >= 1
    assert world.points("chunks", fresh) == 0
    assert world.search("royalties", tenant="t3") == fresh
    assert world.reindex.state("t3").up_to_date
    assert world.routes.for_search("t1").collection == "chunks"


def test_a_document_being_indexed_when_the_move_starts_reaches_the_new_collection(
    world: World,
) -> None:
    _restarted_with_new_embedder(world)
    docs, reindex = world.docs, world.reindex
    assert docs is not None
    assert reindex is not None
    document_id = docs.upload("t1", "late.pdf", PDF + b"escrow agreement: funds held").document.id
    world.queue.pending.clear()
    docs.run_parse(document_id)  # parsed; its index step runs below
    old = world.embedder(32)
    old.calls.clear()
    old.hold = threading.Event()
    step = threading.Thread(target=docs.run_index, args=(document_id,))
    step.start()
    try:
        assert old.calls.wait(10)  # embedding for the old collection only
        reindex.start("t1")  # the move starts now: the step must not miss it
    finally:
        old.hold.set()
        step.join(10)
    assert world.points("chunks", document_id) >= 1
    assert world.points(NEW_NAME, document_id) == world.points("chunks", document_id)
    reindex.run("t1")
    assert world.search("escrow") == document_id
