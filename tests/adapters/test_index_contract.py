"""One contract for every VectorIndex adapter: the fake, qdrant-edge, qdrant-client local
and qdrant-client over HTTP to the Qdrant REST stand-in (tests/qdrant_rest.py)."""

from __future__ import annotations

import atexit
import math
import random
import shutil
import tempfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pipelines.errors import BackendUnavailable
from pipelines.models import Chunk, IndexedChunk, SparseVector
from pipelines.ports import VectorIndex
from pipelines.sparse import encode_sparse, encode_sparse_query
from services.adapters.index_fake import InMemoryIndex
from services.adapters.qdrant_edge import EdgeIndex
from services.adapters.qdrant_server import QdrantServerIndex
from tests.qdrant_rest import running

_REST: list[str] = []


def qdrant_rest_url() -> str:
    """One REST stand-in for the whole session, in a thread, its collections in a temp
    folder (each test opens a collection of its own)."""
    if not _REST:
        folder = Path(tempfile.mkdtemp(prefix="qdrant-rest-"))
        server = running(folder)
        _REST.append(server.__enter__())
        atexit.register(shutil.rmtree, folder, True)  # atexit runs last-registered first
        atexit.register(server.__exit__, None, None, None)
    return _REST[0]


DIM = 16
Factory = Callable[[Path], VectorIndex]

FACTORIES: dict[str, Factory] = {
    "fake": lambda path: InMemoryIndex(DIM),
    "edge": lambda path: EdgeIndex(path / "edge", DIM),
    "qdrant_local": lambda path: QdrantServerIndex.connect("chunks", DIM, location=":memory:"),
    # over HTTP to the REST stand-in (tests/qdrant_rest.py): no Qdrant server here
    "qdrant_rest": lambda path: QdrantServerIndex.connect(
        f"chunks-{path.name}", DIM, url=qdrant_rest_url()
    ),
}


@pytest.fixture(params=list(FACTORIES))
def index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorIndex]:
    opened = FACTORIES[request.param](tmp_path)
    yield opened
    opened.close()


def unit(seed: int) -> list[float]:
    rng = random.Random(seed)
    vector = [rng.gauss(0, 1) for _ in range(DIM)]
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector]


def item(
    tenant: str, document_id: str, number: int, text: str, dense: list[float] | None = None
) -> IndexedChunk:
    chunk = Chunk(
        document_id=document_id,
        number=number,
        text=text,
        page_start=number + 1,
        page_end=number + 2,
        section_path=["第一章 总则", f"Section {number}"],
        char_start=number * 100,
        char_end=number * 100 + len(text),
        token_count=len(text) // 4 + 1,
    )
    return IndexedChunk(
        tenant=tenant,
        chunk=chunk,
        dense=dense if dense is not None else unit(zlib.crc32(f"{document_id}:{number}".encode())),
        sparse=encode_sparse(text),
    )


def corpus(tenant: str, document_id: str, n: int = 5) -> list[IndexedChunk]:
    return [
        item(tenant, document_id, i, f"clause {i} of {document_id} payment terms") for i in range(n)
    ]


def search_all(
    index: VectorIndex, tenant: str, document_ids: list[str] | None = None
) -> list[Chunk]:
    sparse = encode_sparse_query("payment")
    hits = index.search(
        tenant=tenant, dense=unit(1), sparse=sparse, limit=100, document_ids=document_ids
    )
    return [hit.chunk for hit in hits]


def test_upsert_is_idempotent(index: VectorIndex) -> None:
    items = corpus("a", "doc1")
    index.upsert(items)
    index.upsert(items)
    assert index.count() == 5
    assert index.count(tenant="a", document_id="doc1") == 5
    assert len(search_all(index, "a")) == 5


def test_tenant_filter_isolates(index: VectorIndex) -> None:
    index.upsert(corpus("a", "doc-a"))
    index.upsert(corpus("b", "doc-b", 3))
    assert {c.document_id for c in search_all(index, "b")} == {"doc-b"}
    assert {c.document_id for c in search_all(index, "a")} == {"doc-a"}
    assert search_all(index, "nobody") == []
    assert index.count(tenant="b") == 3
    # Another tenant naming A's document sees nothing of it.
    assert search_all(index, "b", document_ids=["doc-a"]) == []


def test_document_filter(index: VectorIndex) -> None:
    index.upsert(corpus("a", "doc1") + corpus("a", "doc2") + corpus("a", "doc3"))
    found = search_all(index, "a", document_ids=["doc1", "doc3"])
    assert len(found) == 10
    assert {c.document_id for c in found} == {"doc1", "doc3"}


def test_delete_document_removes_only_that_document(index: VectorIndex) -> None:
    index.upsert(corpus("a", "doc1") + corpus("a", "doc2") + corpus("b", "doc3"))
    index.delete_document("b", "doc1")  # wrong tenant: nothing happens
    assert index.count(document_id="doc1") == 5
    index.delete_document("a", "doc1")
    assert index.count(document_id="doc1") == 0
    assert index.count(tenant="a") == 5
    assert index.count(tenant="b") == 5
    assert {c.document_id for c in search_all(index, "a")} == {"doc2"}


def test_payload_round_trips(index: VectorIndex) -> None:
    original = item("a", "doc-中文", 7, "甲方应当支付违约金。The Supplier shall pay damages.")
    index.upsert([original])
    hits = index.search(
        tenant="a", dense=original.dense, sparse=encode_sparse_query("违约金"), limit=3
    )
    assert [hit.chunk for hit in hits] == [original.chunk]
    assert hits[0].score > 0


@pytest.mark.parametrize(
    ("query", "target", "partials"),
    [
        (
            "liquidated damages",
            "The Supplier shall pay liquidated damages of 1% per week of delay.",
            ["Damages for breach are limited to fees paid.", "The company was liquidated in 2019."],
        ),
        (
            "违约金",
            "乙方逾期交货的，应向甲方支付违约金，每日按合同金额的千分之一计算。",
            ["任何一方违约的，应承担违约责任。", "合同金额为人民币一百万元。"],
        ),
    ],
)
def test_exact_term_sparse_hit_ranks_first(
    index: VectorIndex, query: str, target: str, partials: list[str]
) -> None:
    query_dense = unit(1)
    away = [-x for x in query_dense]
    filler = [
        "Governing law is the State of New York.",
        "本协议自双方签字之日起生效。",
        "Notices shall be given in writing.",
        "Confidential information must not be disclosed.",
        "董事会负责公司治理。",
        "Either party may terminate upon thirty days notice.",
    ]
    items = [
        # Unrelated chunks sit closest to the query in dense space: dense alone ranks them first.
        item(
            "a",
            "filler",
            i,
            text,
            [0.8 * q + 0.2 * r for q, r in zip(query_dense, unit(100 + i), strict=True)],
        )
        for i, text in enumerate(filler)
    ]
    items += [item("a", "partial", i, text, away) for i, text in enumerate(partials)]
    items.append(item("a", "target", 0, target, unit(7)))
    index.upsert(items)
    hits = index.search(tenant="a", dense=query_dense, sparse=encode_sparse_query(query), limit=5)
    assert hits[0].chunk.text == target


def test_idf_is_computed_over_the_tenant_only(index: VectorIndex) -> None:
    """In tenant A "alpha" is rarer than "beta"; tenant B's many "alpha" chunks must not matter.

    Dense: W is nearest, X and Y tie, Z is far. Sparse with A's own IDF ranks X > Y > Z and
    RRF then puts X first; with collection-wide IDF "alpha" would be common, Y would win.
    """
    query_dense = unit(1)
    shared = unit(2)
    index.upsert(
        [
            item("a", "w", 0, "unrelated words here", query_dense),
            item("a", "x", 0, "alpha", shared),
            item("a", "y", 0, "beta", shared),
            item("a", "z", 0, "beta gamma delta epsilon", [-v for v in query_dense]),
        ]
        + [item("b", "b", i, f"alpha filler {i}") for i in range(30)]
    )
    hits = index.search(
        tenant="a", dense=query_dense, sparse=encode_sparse_query("alpha beta"), limit=4
    )
    assert [hit.chunk.document_id for hit in hits][0] == "x"


def test_empty_sparse_query_falls_back_to_dense(index: VectorIndex) -> None:
    index.upsert([item("a", "doc", 0, "alpha", unit(5)), item("a", "doc", 1, "beta", unit(6))])
    hits = index.search(
        tenant="a", dense=unit(5), sparse=SparseVector(indices=[], values=[]), limit=2
    )
    assert [hit.chunk.text for hit in hits] == ["alpha", "beta"]


def test_wrong_dimension_is_rejected(index: VectorIndex) -> None:
    with pytest.raises(ValueError, match="dimensions"):
        index.upsert([item("a", "doc", 0, "text", [1.0, 0.0])])


def test_edge_reopens_from_disk(tmp_path: Path) -> None:
    first = EdgeIndex(tmp_path / "edge", DIM)
    first.upsert(corpus("a", "doc1"))
    first.close()
    again = EdgeIndex(tmp_path / "edge", DIM)
    try:
        assert again.count(tenant="a") == 5
        assert len(search_all(again, "a")) == 5
        again.optimize()
        assert len(search_all(again, "a")) == 5
    finally:
        again.close()


def test_edge_folder_is_locked_to_one_owner(tmp_path: Path) -> None:
    owner = EdgeIndex(tmp_path / "edge", DIM)
    try:
        with pytest.raises(BackendUnavailable):
            EdgeIndex(tmp_path / "edge", DIM)
    finally:
        owner.close()


def test_qdrant_local_path_reopens(tmp_path: Path) -> None:
    first = QdrantServerIndex.connect("chunks", DIM, path=str(tmp_path / "q"))
    first.upsert(corpus("a", "doc1", 3))
    first.close()
    again = QdrantServerIndex.connect("chunks", DIM, path=str(tmp_path / "q"))
    try:
        assert again.count(tenant="a") == 3
        assert [c.number for c in search_all(again, "a")] != []
    finally:
        again.close()


def test_unreachable_server_is_backend_unavailable() -> None:
    with pytest.raises(BackendUnavailable):
        QdrantServerIndex.connect("chunks", DIM, url="http://127.0.0.1:9", timeout=1)
