"""Analysis results (answers, summaries, risk reports) cached in the metadata store's database.

One table on the same SQLAlchemy engine as `SqlStore` (SQLite embedded, Postgres in
production). Keys are built by `services.analysis` and include a version of the documents
they depend on, so a changed document set simply misses; stale rows are removed with their
document (`forget_document`) or left to `purge`. `RedisAnalysisCache`
(analysis_cache_redis.py) has the same methods (`services.cache.AnalysisCache`) for
production; `settings.cache.mode` chooses.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, MetaData, String, Table, Text, delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from pipelines.errors import BackendUnavailable

metadata = MetaData()

analysis_cache = Table(
    "analysis_cache",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("tenant", String(128), nullable=False, index=True),
    Column("document_id", String(64), nullable=True, index=True),
    Column("value", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


class SqlAnalysisCache:
    """Key -> JSON text, on `engine` (the table is created if missing)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        try:
            metadata.create_all(engine)
        except OperationalError as exc:
            raise BackendUnavailable(f"analysis cache unavailable: {exc.orig}") from exc

    def get(self, key: str) -> str | None:
        """The cached JSON text, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(analysis_cache.c.value).where(analysis_cache.c.key == key)
            ).first()
        return None if row is None else str(row[0])

    def put(
        self, key: str, value: str, *, kind: str, tenant: str, document_id: str | None = None
    ) -> None:
        """Store (or replace) one entry."""
        with self.engine.begin() as conn:
            conn.execute(delete(analysis_cache).where(analysis_cache.c.key == key))
            conn.execute(
                analysis_cache.insert().values(
                    key=key, kind=kind, tenant=tenant, document_id=document_id, value=value,
                    created_at=datetime.now(UTC),
                )
            )

    def forget_document(self, document_id: str) -> int:
        """Remove the summaries and risk reports of one document; returns how many."""
        with self.engine.begin() as conn:
            result = conn.execute(
                delete(analysis_cache).where(analysis_cache.c.document_id == document_id)
            )
        return int(result.rowcount or 0)

    def purge(self, tenant: str | None = None) -> int:
        """Remove every entry (of one tenant); returns how many."""
        statement = delete(analysis_cache)
        if tenant is not None:
            statement = statement.where(analysis_cache.c.tenant == tenant)
        with self.engine.begin() as conn:
            result = conn.execute(statement)
        return int(result.rowcount or 0)
