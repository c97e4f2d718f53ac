"""A deleted document's rows, erased in one transaction on the store's database.

`erase_rows` removes the `documents` row first (taking its lock), then in the same
transaction every row derived from it: chunks, page offsets, kind and metadata, its
analysis jobs (results and reasons with them), cached analyses of it and answers citing
it, its version links (a later version then has no previous one), its page-ledger row
(kept counting under a random id) and its entries in stored daily
reports (taken out, `pipelines.reports.without_documents`), and its obligations. A task
still running on the document writes its derived rows only while the row exists
(`store_engine.document_alive`, in the transaction of the write), so whatever it wrote
before is erased here and nothing after. An `erasures` row (the id and tenant, no text)
records the delete until what lives outside the database (index points, the file, a Redis
cache) is gone too (`finish`), so a delete cut short is finished on retry or on start.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection, Engine

from services.adapters import (
    analysis_cache,
    document_versions,
    jobs,
    obligations,
    page_usage,
    reports,
    store_engine,
)
from services.adapters.schema import chunks, document_meta, documents, erasures, page_layouts


class SqlEraser:
    """Erases documents' rows from every table on `engine` (migrated by `schema.prepare`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _begin(self) -> AbstractContextManager[Connection]:
        return store_engine.transaction(self.engine, "metadata store")

    def erase_rows(self, tenant: str, document_id: str) -> None:
        """Remove the document's row and every row derived from it; record the erasure
        until `finish` (idempotent)."""
        with self._begin() as conn:
            conn.execute(
                delete(documents).where(documents.c.id == document_id, documents.c.tenant == tenant)
            )
            for table in (chunks, page_layouts, document_meta):
                conn.execute(delete(table).where(table.c.document_id == document_id))
            conn.execute(
                delete(jobs.jobs).where(
                    jobs.jobs.c.document_id == document_id, jobs.jobs.c.tenant == tenant
                )
            )
            analysis_cache.forget_in(conn, document_id)
            document_versions.forget_in(conn, document_id)  # its link, and links naming it
            page_usage.anonymise_in(conn, document_id)
            reports.redact_in(conn, tenant, document_id)
            obligations.delete_in(conn, document_id)
            if (
                conn.execute(
                    select(erasures.c.document_id).where(erasures.c.document_id == document_id)
                ).first()
                is None
            ):
                conn.execute(
                    erasures.insert().values(
                        document_id=document_id, tenant=tenant, started_at=datetime.now(UTC)
                    )
                )

    def pending(self, tenant: str | None = None) -> list[tuple[str, str]]:
        """(tenant, document id) of erasures not finished (of one tenant, or all)."""
        query = select(erasures.c.tenant, erasures.c.document_id)
        if tenant is not None:
            query = query.where(erasures.c.tenant == tenant)
        with self._begin() as conn:
            return [(str(t), str(d)) for t, d in conn.execute(query).all()]

    def finish(self, document_id: str) -> None:
        """Everything of the document is gone: drop the erasure's record."""
        with self._begin() as conn:
            conn.execute(delete(erasures).where(erasures.c.document_id == document_id))
