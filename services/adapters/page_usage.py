"""Pages parsed per tenant, in the metadata store's database: the ledger behind the
pages-per-minute limit (shared by every API replica and worker on the same store).

One row per parsed document (its page count and when it was parsed); a document parsed
twice (a duplicate task) counts once. Rows older than the window are pruned on write. A
deleted document's row keeps counting under a random id (`anonymise_in`); a parse that
ends after the delete records nothing.
"""

from __future__ import annotations

import uuid
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    delete,
    func,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from services.adapters.schema import page_usage as page_usage  # re-exported
from services.adapters.store_engine import document_alive, transaction

KEEP = timedelta(hours=1)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite drops the zone


def anonymise_in(conn: Connection, document_id: str) -> None:
    """In `conn`'s transaction, keep the document's pages counted under a random id."""
    conn.execute(
        update(page_usage)
        .where(page_usage.c.document_id == document_id)
        .values(document_id=str(uuid.uuid4()))
    )


class SqlPageLedger:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _begin(self) -> AbstractContextManager[Connection]:
        return transaction(self.engine, "page ledger")

    def record(self, tenant: str, document_id: str, pages: int) -> None:
        now = datetime.now(UTC)
        try:
            with self._begin() as conn:
                if not document_alive(conn, document_id):
                    return  # deleted meanwhile
                conn.execute(
                    page_usage.insert().values(
                        document_id=document_id, tenant=tenant, pages=pages, parsed_at=now
                    )
                )
        except IntegrityError:
            return  # already counted
        with self._begin() as conn:
            conn.execute(delete(page_usage).where(page_usage.c.parsed_at < now - KEEP))

    def used_since(self, tenant: str, since: datetime) -> tuple[int, datetime | None]:
        """Pages parsed for `tenant` since `since`, and the oldest of those parses."""
        query = select(
            func.coalesce(func.sum(page_usage.c.pages), 0), func.min(page_usage.c.parsed_at)
        ).where(page_usage.c.tenant == tenant, page_usage.c.parsed_at >= since)
        with self._begin() as conn:
            pages, oldest = conn.execute(query).one()
        return int(pages), None if oldest is None else _utc(oldest)
