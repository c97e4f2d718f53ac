"""The index catalog (`SqlIndexCatalog`) on SQLite and PostgreSQL: each collection's
embedder is recorded once, and a tenant's move goes moving -> cleaning -> done (or failed),
each step conditional on the state it expects, the switch in one update."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.adapters.index_catalog import SqlIndexCatalog
from services.adapters.store import SqlStore
from services.app.ports import EmbedderSpec

OLD = EmbedderSpec(kind="use-onnx", model=None, dimension=512)
NEW = EmbedderSpec(
    kind="openai", model="Qwen/Qwen3-Embedding-0.6B", dimension=1024, url="http://e:8000/v1"
)


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlIndexCatalog]:
    url = (
        f"sqlite:///{tmp_path / 'store.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    store = SqlStore(url)
    catalog = SqlIndexCatalog(store.engine)
    yield catalog
    with store.engine.begin() as conn:  # one PostgreSQL per module: leave it empty
        conn.exec_driver_sql("DELETE FROM tenant_indexes")
        conn.exec_driver_sql("DELETE FROM index_collections")
    store.close()


def test_a_collections_embedder_is_recorded_once(catalog: SqlIndexCatalog) -> None:
    assert catalog.register("chunks", OLD) == OLD
    assert catalog.register("chunks", NEW) == OLD  # the first record stays
    assert catalog.register("chunks__new", NEW) == NEW
    assert catalog.collections() == {"chunks": OLD, "chunks__new": NEW}
    assert catalog.spec_of("missing") is None


def test_a_move_switches_in_one_update_and_each_step_expects_its_state(
    catalog: SqlIndexCatalog,
) -> None:
    assert catalog.tenant("t1") is None
    row = catalog.start_move("t1", "chunks", "chunks__new")
    assert (row.collection, row.target, row.state) == ("chunks", "chunks__new", "moving")
    assert catalog.unfinished() == ["t1"]
    assert catalog.progress("t1", "chunks__new", 1, 2)
    assert not catalog.progress("t1", "elsewhere", 1, 2)  # not its target
    assert catalog.flip("t1", "chunks__new")
    assert not catalog.flip("t1", "chunks__new")  # a duplicate run changes nothing
    row = catalog.tenant("t1")
    assert row is not None
    assert (row.collection, row.previous, row.target, row.state) == (
        "chunks__new",
        "chunks",
        None,
        "cleaning",
    )
    assert (row.documents_done, row.documents_total) == (1, 2)
    assert catalog.unfinished() == ["t1"]
    assert catalog.cleaned("t1")
    row = catalog.tenant("t1")
    assert row is not None
    assert (row.state, row.finished_at is not None) == ("done", True)
    assert catalog.unfinished() == []


def test_a_failed_move_stays_and_a_new_one_starts_over(catalog: SqlIndexCatalog) -> None:
    catalog.start_move("t1", "chunks", "chunks__new")
    catalog.progress("t1", "chunks__new", 3, 5)
    assert catalog.fail("t1", "chunks__new", "backend_unavailable", "embedding server down")
    row = catalog.tenant("t1")
    assert row is not None
    assert (row.collection, row.state, row.reason) == ("chunks", "failed", "embedding server down")
    assert not catalog.flip("t1", "chunks__new")
    row = catalog.start_move("t1", "ignored: the row exists", "chunks__new")
    assert (row.collection, row.state, row.documents_done, row.reason) == (
        "chunks",
        "moving",
        0,
        None,
    )


def test_placing_a_tenant_never_moves_one_with_a_row(catalog: SqlIndexCatalog) -> None:
    catalog.place("t1", "chunks__new")
    catalog.place("t1", "chunks")
    catalog.start_move("t2", "chunks", "chunks__new")
    catalog.place("t2", "chunks__other")
    one, two = catalog.tenant("t1"), catalog.tenant("t2")
    assert one is not None
    assert two is not None
    assert (one.collection, one.state) == ("chunks__new", "done")
    assert (two.collection, two.state) == ("chunks", "moving")
