"""The metadata store's database (services/adapters/store.py and the stores sharing it):
its engine, transactions, and the row lock that keeps a deleted document's data deleted."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from typing import Any

from sqlalchemy import create_engine, event, select, text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from pipelines.errors import BackendUnavailable
from services.adapters.schema import documents, prepare


def _enable_sqlite_wal(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA secure_delete=ON")  # a deleted document's text is overwritten
    cursor.close()


def document_alive(conn: Connection, document_id: str) -> bool:
    """Whether the document's row exists, locking it until `conn`'s transaction ends.

    Every write of data derived from a document (chunks, page offsets, kind, the page
    ledger, a report's entries) checks this in its own transaction: delete removes the row
    first (`services.adapters.erasure`), so a task still running on a deleted document
    writes nothing, and one that wrote before has its rows erased with it. A no-op UPDATE
    takes the row lock on PostgreSQL and the write lock on SQLite."""
    result = conn.execute(
        update(documents)
        .where(documents.c.id == document_id)
        .values(updated_at=documents.c.updated_at)
    )
    return bool(result.rowcount)


def documents_alive(conn: Connection, document_ids: Sequence[str]) -> set[str]:
    """`document_alive` for many: those whose row exists, locked until the transaction ends."""
    ids = list(dict.fromkeys(document_ids))
    found: set[str] = set()
    for i in range(0, len(ids), 500):
        part = ids[i : i + 500]
        conn.execute(
            update(documents)
            .where(documents.c.id.in_(part))
            .values(updated_at=documents.c.updated_at)
        )
        found.update(
            str(row[0])
            for row in conn.execute(select(documents.c.id).where(documents.c.id.in_(part))).all()
        )
    return found


@contextmanager
def transaction(engine: Engine, what: str) -> Iterator[Connection]:
    """A transaction on `engine`, for every table on the store's database; a database that
    cannot be reached raises `BackendUnavailable` naming `what`."""
    try:
        with engine.begin() as conn:
            yield conn
    except OperationalError as exc:
        raise BackendUnavailable(f"{what} unavailable: {exc.orig}") from exc


class StoreEngine:
    """The metadata store's engine, opened (and migrated) on `url`; the base of the store's
    parts (`SqlStore` and the mixins it is made of)."""

    def __init__(self, url: str, *, upgrade: bool | None = True) -> None:
        """`upgrade`: True migrates the database to this release's schema (embedded
        deployment, tests), False checks it is there (production: `docsight db upgrade`
        migrates), None leaves it alone (`services.adapters.schema.prepare`)."""
        self.url = url
        is_sqlite = url.startswith("sqlite")
        # JSON as written (no \u escapes): SQLite's JSON paths match keys by their raw text.
        # A ping before each checkout finds a server's dropped connection; a SQLite file
        # has none to drop, and the ping cost a query a transaction (thousands an ingest).
        kwargs: dict[str, Any] = {
            "pool_pre_ping": not is_sqlite,
            "json_serializer": partial(json.dumps, ensure_ascii=False),
        }
        if is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        self.engine: Engine = create_engine(url, **kwargs)
        if is_sqlite:
            event.listen(self.engine, "connect", _enable_sqlite_wal)
        if upgrade is not None:
            try:
                prepare(self.engine, upgrade=upgrade)
            except OperationalError as exc:
                raise BackendUnavailable(f"metadata store unavailable: {exc.orig}") from exc

    def _begin(self) -> AbstractContextManager[Connection]:
        return transaction(self.engine, "metadata store")

    def ping(self) -> None:
        with self._begin() as conn:
            conn.execute(text("SELECT 1"))

    def close(self) -> None:
        self.engine.dispose()
