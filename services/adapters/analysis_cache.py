"""Analysis results (answers, summaries, risk reports) cached in the metadata store's database.

One table on the same SQLAlchemy engine as `SqlStore` (SQLite embedded, Postgres in
production). Keys are built by `services.app.analysis` and include a version of the documents
they depend on, so a changed document set simply misses; stale rows are removed with their
document (`forget_document`) or left to `purge`. An entry's documents are its `document_id`
(summaries, risk reports, steps) and, for answers, every document it cites
(`analysis_cache_documents`): deleting any of them erases it. `RedisAnalysisCache`
(analysis_cache_redis.py) has the same methods (`services.app.cache.AnalysisCache`) for
production; `settings.cache.mode` chooses.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection, Engine

from services.adapters.schema import analysis_cache as analysis_cache  # re-exported
from services.adapters.schema import cited as cited


def forget_in(conn: Connection, document_id: str) -> int:
    """In `conn`'s transaction, remove every entry of or citing the document."""
    own = select(analysis_cache.c.key).where(analysis_cache.c.document_id == document_id)
    citing = select(cited.c.key).where(cited.c.document_id == document_id)
    keys = sorted({str(row[0]) for row in conn.execute(own.union(citing)).all()})
    removed = 0
    for i in range(0, len(keys), 500):
        part = keys[i : i + 500]
        removed += int(
            conn.execute(delete(analysis_cache).where(analysis_cache.c.key.in_(part))).rowcount or 0
        )
        conn.execute(delete(cited).where(cited.c.key.in_(part)))
    return removed


class SqlAnalysisCache:
    """Key -> JSON text, on `engine` (migrated by `schema.prepare`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, key: str) -> str | None:
        """The cached JSON text, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(analysis_cache.c.value).where(analysis_cache.c.key == key)
            ).first()
        return None if row is None else str(row[0])

    def put(
        self,
        key: str,
        value: str,
        *,
        kind: str,
        tenant: str,
        document_id: str | None = None,
        document_ids: Sequence[str] = (),
    ) -> None:
        """Store (or replace) one entry; `document_ids`: the documents it cites."""
        with self.engine.begin() as conn:
            conn.execute(delete(analysis_cache).where(analysis_cache.c.key == key))
            conn.execute(delete(cited).where(cited.c.key == key))
            conn.execute(
                analysis_cache.insert().values(
                    key=key,
                    kind=kind,
                    tenant=tenant,
                    document_id=document_id,
                    value=value,
                    created_at=datetime.now(UTC),
                )
            )
            if document_ids:
                conn.execute(
                    cited.insert(),
                    [{"key": key, "document_id": d} for d in dict.fromkeys(document_ids)],
                )

    def forget_document(self, document_id: str) -> int:
        """Remove the entries of one document (its summaries, risk reports, steps) and the
        answers citing it; returns how many."""
        with self.engine.begin() as conn:
            return forget_in(conn, document_id)

    def purge(self, tenant: str | None = None) -> int:
        """Remove every entry (of one tenant); returns how many."""
        statement = delete(analysis_cache)
        if tenant is not None:
            statement = statement.where(analysis_cache.c.tenant == tenant)
        with self.engine.begin() as conn:
            result = conn.execute(statement)
            conn.execute(delete(cited).where(cited.c.key.not_in(select(analysis_cache.c.key))))
        return int(result.rowcount or 0)
