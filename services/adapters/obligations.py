"""Key dates and obligations of contracts, and the tokens of the tenant's calendar feed, in
the metadata store's database (tables `obligations` and `calendar_feeds`).

A document's rows are replaced together (`replace`: the extraction run again writes the same
rows once), only while the document exists (`store_engine.document_alive`, in the write's
transaction); `delete_in` erases them with the document (services/adapters/erasure.py).
Listing joins each row with its document, so only the tenant's existing documents show.
A feed's token is never stored: its SHA-256 is (a unique column, one index probe a lookup).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection, Engine

from services.adapters.schema import calendar_feeds as calendar_feeds  # re-exported
from services.adapters.schema import documents
from services.adapters.schema import obligations as obligations  # re-exported
from services.adapters.store_engine import document_alive, transaction
from services.app.ports import CalendarFeed, Obligation

_LISTED = select(obligations, documents.c.filename).select_from(
    obligations.join(documents, documents.c.id == obligations.c.document_id)
)


def _utc(value: datetime | None) -> datetime | None:
    """An aware UTC datetime (SQLite gives back naive ones)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class SqlObligationStore:
    """Rows of `obligations` and `calendar_feeds` on `engine` (migrated by `schema.prepare`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _begin(self) -> AbstractContextManager[Connection]:
        return transaction(self.engine, "metadata store")

    def replace(self, tenant: str, document_id: str, rows: Sequence[Obligation]) -> bool:
        """Replace the document's rows (idempotent); False, nothing written, when the
        document was deleted."""
        values = [
            {k: v for k, v in asdict(row).items() if k != "filename"}
            | {"tenant": tenant, "document_id": document_id}
            for row in rows
        ]
        with self._begin() as conn:
            if not document_alive(conn, document_id):
                return False
            conn.execute(delete(obligations).where(obligations.c.document_id == document_id))
            if values:
                conn.execute(insert(obligations), values)
        return True

    def find(
        self,
        tenant: str,
        *,
        due_before: date | None = None,
        due_after: date | None = None,
        document_id: str | None = None,
        kind: str | None = None,
    ) -> list[Obligation]:
        """The tenant's rows of existing documents, by due date (inclusive bounds; a
        bound leaves undated rows out), undated last, then file name and place."""
        query = _LISTED.where(obligations.c.tenant == tenant, documents.c.tenant == tenant)
        if due_before is not None:
            query = query.where(obligations.c.due_date <= due_before)
        if due_after is not None:
            query = query.where(obligations.c.due_date >= due_after)
        if document_id is not None:
            query = query.where(obligations.c.document_id == document_id)
        if kind is not None:
            query = query.where(obligations.c.kind == kind)
        query = query.order_by(
            obligations.c.due_date.is_(None),
            obligations.c.due_date,
            documents.c.filename,
            obligations.c.document_id,
            obligations.c.char_start,
            obligations.c.kind,
        )
        with self._begin() as conn:
            rows = conn.execute(query).all()
        return [_obligation(row._mapping) for row in rows]

    def passed(
        self, kinds: Sequence[str], *, before: date, read_before: datetime
    ) -> list[tuple[str, str]]:
        """(tenant, document) of the documents with a row of `kinds` due before `before`
        and written before `read_before`."""
        query = (
            select(obligations.c.tenant, obligations.c.document_id)
            .where(
                obligations.c.kind.in_(list(kinds)),
                obligations.c.due_date < before,
                obligations.c.created_at < read_before,
            )
            .distinct()
        )
        with self._begin() as conn:
            return [(row.tenant, row.document_id) for row in conn.execute(query).all()]

    def add_feed(self, feed: CalendarFeed) -> CalendarFeed:
        with self._begin() as conn:
            conn.execute(insert(calendar_feeds).values(**asdict(feed)))
        return feed

    def feed_by_hash(self, token_hash: str) -> CalendarFeed | None:
        with self._begin() as conn:
            row = conn.execute(
                select(calendar_feeds).where(calendar_feeds.c.token_hash == token_hash)
            ).first()
        return None if row is None else _feed(row._mapping)

    def feeds(self, tenant: str) -> list[CalendarFeed]:
        """The tenant's feeds, oldest first (revoked ones included)."""
        with self._begin() as conn:
            rows = conn.execute(
                select(calendar_feeds)
                .where(calendar_feeds.c.tenant == tenant)
                .order_by(calendar_feeds.c.created_at, calendar_feeds.c.id)
            ).all()
        return [_feed(row._mapping) for row in rows]

    def revoke_feed(self, tenant: str, feed_id: str, when: datetime) -> bool:
        """Revoke the tenant's feed; False if unknown, another tenant's or revoked."""
        with self._begin() as conn:
            result = conn.execute(
                update(calendar_feeds)
                .where(
                    calendar_feeds.c.id == feed_id,
                    calendar_feeds.c.tenant == tenant,
                    calendar_feeds.c.revoked_at.is_(None),
                )
                .values(revoked_at=when)
            )
        return bool(result.rowcount)


def delete_in(conn: Connection, document_id: str) -> int:
    """In `conn`'s transaction, delete the document's obligations; how many."""
    result = conn.execute(delete(obligations).where(obligations.c.document_id == document_id))
    return int(result.rowcount or 0)


def _obligation(row: Any) -> Obligation:
    created = _utc(row["created_at"])
    assert created is not None
    return Obligation(
        id=row["id"],
        tenant=row["tenant"],
        document_id=row["document_id"],
        kind=row["kind"],
        party=row["party"],
        due_date=row["due_date"],
        rule=row["rule"],
        quote=row["quote"],
        page=row["page"],
        page_end=row["page_end"],
        char_start=row["char_start"],
        char_end=row["char_end"],
        verified=bool(row["verified"]),
        method=row["method"],
        created_at=created,
        filename=row["filename"],
    )


def _feed(row: Any) -> CalendarFeed:
    created = _utc(row["created_at"])
    assert created is not None
    return CalendarFeed(
        id=row["id"],
        tenant=row["tenant"],
        name=row["name"],
        token_hash=row["token_hash"],
        created_at=created,
        revoked_at=_utc(row["revoked_at"]),
    )
