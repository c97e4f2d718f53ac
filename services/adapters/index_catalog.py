"""Each index collection's embedder and each tenant's collection, in the metadata store's
database (`index_collections`, `tenant_indexes`; services.adapters.schema, migration 0003).

A tenant's row is the truth about its move to another collection: the Celery message only
says "move tenant T", so a move lost with a stopped process is re-sent from the rows
(`unfinished`), and each change is conditional on the state it expects (a duplicate run
changes nothing twice).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from services.adapters.schema import index_collections, tenant_indexes
from services.adapters.store_engine import transaction
from services.app.ports import EmbedderSpec, TenantIndex

T = tenant_indexes.c


def _utc(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def _spec(value: Mapping[str, Any]) -> EmbedderSpec:
    return EmbedderSpec(
        kind=str(value["kind"]),
        model=value.get("model"),
        dimension=int(value["dimension"]),
        url=value.get("url"),
        query_prefix=value.get("query_prefix"),
    )


def _json(spec: EmbedderSpec) -> dict[str, Any]:
    return {
        "kind": spec.kind,
        "model": spec.model,
        "dimension": spec.dimension,
        "url": spec.url,
        "query_prefix": spec.query_prefix,
    }


def _row(row: Mapping[str, Any]) -> TenantIndex:
    return TenantIndex(
        tenant=row["tenant"],
        collection=row["collection"],
        state=row["state"],
        target=row["target"],
        previous=row["previous"],
        documents_done=row["documents_done"],
        documents_total=row["documents_total"],
        error_code=row["error_code"],
        reason=row["reason"],
        started_at=_utc(row["started_at"]),
        finished_at=_utc(row["finished_at"]),
        updated_at=_utc(row["updated_at"]),
    )


class SqlIndexCatalog:
    """`services.app.ports.IndexCatalog` on the store's engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _begin(self) -> Any:
        return transaction(self.engine, "index catalog")

    def register(self, name: str, spec: EmbedderSpec) -> EmbedderSpec:
        found = self.spec_of(name)
        if found is not None:
            return found
        try:
            with self._begin() as conn:
                conn.execute(
                    index_collections.insert().values(
                        name=name, embedder=_json(spec), created_at=datetime.now(UTC)
                    )
                )
        except IntegrityError:  # another process recorded it first
            pass
        recorded = self.spec_of(name)
        assert recorded is not None
        return recorded

    def spec_of(self, name: str) -> EmbedderSpec | None:
        with self._begin() as conn:
            value = conn.execute(
                select(index_collections.c.embedder).where(index_collections.c.name == name)
            ).scalar()
        return None if value is None else _spec(value)

    def collections(self) -> dict[str, EmbedderSpec]:
        with self._begin() as conn:
            rows = conn.execute(
                select(index_collections.c.name, index_collections.c.embedder).order_by(
                    index_collections.c.created_at
                )
            ).all()
        return {name: _spec(value) for name, value in rows}

    def tenant(self, tenant: str) -> TenantIndex | None:
        with self._begin() as conn:
            row = conn.execute(select(tenant_indexes).where(T.tenant == tenant)).first()
        return None if row is None else _row(row._mapping)

    def place(self, tenant: str, collection: str) -> None:
        now = datetime.now(UTC)
        try:
            with self._begin() as conn:
                if conn.execute(select(T.tenant).where(T.tenant == tenant)).first() is None:
                    conn.execute(
                        tenant_indexes.insert().values(
                            tenant=tenant,
                            collection=collection,
                            state="done",
                            documents_done=0,
                            documents_total=0,
                            updated_at=now,
                        )
                    )
        except IntegrityError:  # placed (or moved) by another request at the same moment
            pass

    def start_move(self, tenant: str, collection: str, target: str) -> TenantIndex:
        now = datetime.now(UTC)
        values = dict(
            target=target,
            state="moving",
            documents_done=0,
            documents_total=0,
            error_code=None,
            reason=None,
            started_at=now,
            finished_at=None,
            updated_at=now,
        )
        try:
            with self._begin() as conn:
                if conn.execute(select(T.tenant).where(T.tenant == tenant)).first() is None:
                    conn.execute(
                        tenant_indexes.insert().values(
                            tenant=tenant, collection=collection, previous=None, **values
                        )
                    )
                else:
                    conn.execute(update(tenant_indexes).where(T.tenant == tenant).values(**values))
        except IntegrityError:  # inserted by a request at the same moment: update it
            with self._begin() as conn:
                conn.execute(update(tenant_indexes).where(T.tenant == tenant).values(**values))
        found = self.tenant(tenant)
        assert found is not None
        return found

    def _moving(self, tenant: str, target: str, **values: Any) -> bool:
        with self._begin() as conn:
            result = conn.execute(
                update(tenant_indexes)
                .where(T.tenant == tenant, T.state == "moving", T.target == target)
                .values(updated_at=datetime.now(UTC), **values)
            )
        return bool(result.rowcount)

    def progress(self, tenant: str, target: str, done: int, total: int) -> bool:
        return self._moving(tenant, target, documents_done=done, documents_total=total)

    def flip(self, tenant: str, target: str) -> bool:
        with self._begin() as conn:
            result = conn.execute(
                update(tenant_indexes)
                .where(T.tenant == tenant, T.state == "moving", T.target == target)
                .values(
                    previous=T.collection,
                    collection=target,
                    target=None,
                    state="cleaning",
                    updated_at=datetime.now(UTC),
                )
            )
        return bool(result.rowcount)

    def cleaned(self, tenant: str) -> bool:
        now = datetime.now(UTC)
        with self._begin() as conn:
            result = conn.execute(
                update(tenant_indexes)
                .where(T.tenant == tenant, T.state == "cleaning")
                .values(state="done", finished_at=now, updated_at=now)
            )
        return bool(result.rowcount)

    def fail(self, tenant: str, target: str, code: str, reason: str) -> bool:
        now = datetime.now(UTC)
        return self._moving(
            tenant, target, state="failed", error_code=code[:32], reason=reason, finished_at=now
        )

    def unfinished(self, idle_since: datetime | None = None) -> list[str]:
        query = select(T.tenant).where(or_(T.state == "moving", T.state == "cleaning"))
        if idle_since is not None:
            query = query.where(T.updated_at < idle_since)
        with self._begin() as conn:
            return [row[0] for row in conn.execute(query.order_by(T.tenant))]
