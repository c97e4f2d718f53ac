"""The obligations and calendar feeds store (services/adapters/obligations.py) on SQLite and
on a real PostgreSQL: replace is idempotent and writes nothing for a deleted document, the
listing filters, orders and keeps to the tenant's existing documents, feeds are found by
hash and revoked per tenant, and the eraser deletes a document's obligations."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import MetaData

from pipelines.models import Document
from services.adapters.erasure import SqlEraser
from services.adapters.obligations import SqlObligationStore
from services.adapters.store import SqlStore
from services.app.ports import CalendarFeed, Obligation

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    store = SqlStore(url)
    yield store
    tables = MetaData()
    tables.reflect(store.engine)
    with store.engine.begin() as conn:  # every table emptied: the next test starts clean
        for table in reversed(tables.sorted_tables):
            conn.execute(table.delete())
    store.close()


def _doc(store: SqlStore, doc_id: str, tenant: str = "t1", filename: str = "a.pdf") -> str:
    store.add_document(
        Document(id=doc_id, tenant=tenant, filename=filename, sha256=doc_id[0] * 64, size_bytes=10)
    )
    return doc_id


def _row(
    doc_id: str, n: int, due: date | None, kind: str = "notice_deadline", tenant: str = "t1"
) -> Obligation:
    return Obligation(
        id=f"{doc_id[:8]}-{n:04d}-0000-0000-000000000000",
        tenant=tenant,
        document_id=doc_id,
        kind=kind,
        party="甲方" if n % 2 else None,
        due_date=due,
        rule=f"rule {n}",
        quote=f"quote {n} 通知",
        page=n,
        page_end=n,
        char_start=10 * n,
        char_end=10 * n + 8,
        verified=True,
        method="pattern",
        created_at=NOW,
    )


A = "aaaaaaaa-0000-0000-0000-000000000001"
B = "bbbbbbbb-0000-0000-0000-000000000002"
C = "cccccccc-0000-0000-0000-000000000003"


def test_replace_is_idempotent_and_lists_with_the_filename(store: SqlStore) -> None:
    rows = SqlObligationStore(store.engine)
    _doc(store, A, filename="合同.pdf")
    first = [_row(A, 1, date(2027, 3, 1)), _row(A, 2, None, "payment_due")]
    assert rows.replace("t1", A, first)
    assert rows.replace("t1", A, first)  # the step run again
    listed = rows.find("t1")
    assert [(o.id, o.filename, o.due_date, o.party) for o in listed] == [
        (first[0].id, "合同.pdf", date(2027, 3, 1), "甲方"),
        (first[1].id, "合同.pdf", None, None),
    ]
    assert listed[0].quote == "quote 1 通知"
    assert listed[0].created_at == NOW
    assert rows.replace("t1", A, first[:1])  # replaced, not added to
    assert [o.id for o in rows.find("t1")] == [first[0].id]


def test_nothing_is_written_for_a_deleted_document(store: SqlStore) -> None:
    rows = SqlObligationStore(store.engine)
    assert not rows.replace("t1", A, [_row(A, 1, date(2027, 1, 1))])
    assert rows.find("t1") == []


def test_filters_order_and_tenants(store: SqlStore) -> None:
    rows = SqlObligationStore(store.engine)
    _doc(store, A, filename="b.pdf")
    _doc(store, B, filename="a.pdf")
    _doc(store, C, tenant="t2")
    day = date(2027, 1, 10)
    rows.replace(
        "t1",
        A,
        [_row(A, 1, day + timedelta(days=5)), _row(A, 2, None), _row(A, 3, day, "renewal")],
    )
    rows.replace("t1", B, [_row(B, 1, day), _row(B, 2, day - timedelta(days=1))])
    rows.replace("t2", C, [_row(C, 1, day, tenant="t2")])
    everything = rows.find("t1")
    assert [(o.document_id, o.due_date) for o in everything] == [
        (B, day - timedelta(days=1)),
        (B, day),  # same day: by file name, a.pdf first
        (A, day),
        (A, day + timedelta(days=5)),
        (A, None),  # undated last
    ]
    bounded = rows.find("t1", due_after=day, due_before=day + timedelta(days=5))
    assert [o.due_date for o in bounded] == [day, day, day + timedelta(days=5)]  # inclusive
    assert [o.id for o in rows.find("t1", document_id=A, kind="renewal")] == [_row(A, 3, day).id]
    assert [o.document_id for o in rows.find("t2")] == [C]
    assert rows.find("t1", document_id=C) == []  # another tenant's document


def test_feeds_by_hash_and_revoked_per_tenant(store: SqlStore) -> None:
    rows = SqlObligationStore(store.engine)
    feed = CalendarFeed(id="f1", tenant="t1", name="team", token_hash="h" * 64, created_at=NOW)
    rows.add_feed(feed)
    rows.add_feed(
        CalendarFeed(id="f2", tenant="t2", name="other", token_hash="g" * 64, created_at=NOW)
    )
    assert rows.feed_by_hash("h" * 64) == feed
    assert rows.feed_by_hash("x" * 64) is None
    assert [f.id for f in rows.feeds("t1")] == ["f1"]
    assert not rows.revoke_feed("t2", "f1", NOW)  # not its feed
    assert rows.revoke_feed("t1", "f1", NOW)
    assert not rows.revoke_feed("t1", "f1", NOW)  # already revoked
    found = rows.feed_by_hash("h" * 64)
    assert found is not None
    assert found.revoked_at == NOW


def test_erasing_a_document_deletes_its_obligations(store: SqlStore) -> None:
    rows = SqlObligationStore(store.engine)
    _doc(store, A)
    _doc(store, B)
    rows.replace("t1", A, [_row(A, 1, date(2027, 1, 1))])
    rows.replace("t1", B, [_row(B, 1, date(2027, 1, 1))])
    SqlEraser(store.engine).erase_rows("t1", A)
    assert [o.document_id for o in rows.find("t1")] == [B]
    with store.engine.connect() as conn:
        left = conn.exec_driver_sql("SELECT document_id FROM obligations").all()
    assert [r[0] for r in left] == [B]


def test_passed_finds_documents_with_a_rolling_date_gone_by(store: SqlStore) -> None:
    rows = SqlObligationStore(store.engine)
    for doc_id in (A, B, C):
        _doc(store, doc_id)
    rows.replace("t1", A, [_row(A, 1, date(2026, 11, 1))])  # passed, read before today
    rows.replace("t1", B, [_row(B, 1, date(2026, 11, 1), kind="expiration_date")])
    rows.replace("t1", C, [_row(C, 1, date(2027, 1, 1))])  # still ahead
    today = date(2026, 11, 30)
    kinds = ("renewal", "notice_deadline", "reporting")
    assert rows.passed(kinds, before=today, read_before=NOW + timedelta(hours=1)) == [("t1", A)]
    # the rows were written at NOW: read before midnight, they would not be passed again
    assert rows.passed(kinds, before=today, read_before=NOW - timedelta(hours=9)) == []
