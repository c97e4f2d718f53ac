"""API keys in the metadata store's database: one row per key, the key itself never stored.

A key is a random token (`ds_` + 32 random bytes, URL-safe base64); the row keeps its
SHA-256 (hex). A salt would add nothing for tokens of 256 random bits: they cannot be
guessed from a dictionary, and the hash column is unique, so a lookup is one index probe.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

from pipelines.errors import BackendUnavailable
from services.adapters.schema import api_keys as api_keys  # re-exported
from services.app.ports import ApiKey  # the row, as the use cases see it


class SqlApiKeyStore:
    """Rows of `api_keys` on `engine` (migrated by `schema.prepare`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, key: ApiKey) -> ApiKey:
        with self._begin() as conn:
            conn.execute(api_keys.insert().values(**key.__dict__))
        return key

    def find_by_hash(self, key_hash: str) -> ApiKey | None:
        with self._connect() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.key_hash == key_hash)).first()
        return None if row is None else _key(row._mapping)

    def get(self, key_id: str) -> ApiKey | None:
        with self._connect() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
        return None if row is None else _key(row._mapping)

    def list(self, tenant: str | None = None) -> list[ApiKey]:
        statement = select(api_keys).order_by(api_keys.c.created_at)
        if tenant is not None:
            statement = statement.where(api_keys.c.tenant == tenant)
        with self._connect() as conn:
            return [_key(row._mapping) for row in conn.execute(statement).all()]

    def count(self) -> int:
        """Every key ever created, revoked ones included."""
        with self._connect() as conn:
            return int(conn.execute(select(func.count()).select_from(api_keys)).scalar_one())

    def revoke(self, key_id: str, when: datetime) -> bool:
        """Revoke an active key; False if it is unknown or already revoked."""
        with self._begin() as conn:
            result = conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=when)
            )
        return bool(result.rowcount)

    def touch(self, key_id: str, when: datetime) -> None:
        with self._begin() as conn:
            conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=when))

    def _connect(self) -> Any:
        return _guarded(self.engine.connect)

    def _begin(self) -> Any:
        return _guarded(self.engine.begin)


@contextmanager
def _guarded(opener: Callable[[], Any]) -> Iterator[Connection]:
    """A connection whose OperationalError (database down) becomes BackendUnavailable."""
    try:
        with opener() as conn:
            yield conn
    except OperationalError as exc:
        raise BackendUnavailable(f"key store unavailable: {exc.orig}") from exc


def _key(row: Any) -> ApiKey:
    values = dict(row)
    for name in ("created_at", "revoked_at", "last_used_at"):
        if values[name] is not None and values[name].tzinfo is None:  # SQLite drops the zone
            values[name] = values[name].replace(tzinfo=UTC)
    return ApiKey(**values)
