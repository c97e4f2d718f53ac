"""The `api_keys` table on SQLite and on a real PostgreSQL (loopback): keys found by hash,
listed, revoked once, their use recorded, times kept with their zone, the hash unique."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from pipelines.errors import BackendUnavailable, Unauthenticated
from services.adapters.api_keys import ApiKey, SqlApiKeyStore
from services.adapters.schema import prepare
from services.app.auth import KeyService, hash_key
from tests.servers import postgres_bin, postgres_server


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path / 'keys.db'}")
        prepare(engine, upgrade=True)
        yield engine
        engine.dispose()
        return
    if postgres_bin() is None:
        pytest.skip("PostgreSQL is not installed")
    with postgres_server() as url:
        engine = create_engine(url)
        prepare(engine, upgrade=True)
        yield engine
        engine.dispose()


def test_keys_round_trip(engine: Engine) -> None:
    keys = KeyService(SqlApiKeyStore(engine), cache_s=0)
    row, plaintext = keys.create("acme", "ci")
    _, other = keys.create("beta", "ops")
    found = keys.authenticate(plaintext)
    assert (found.id, found.tenant, found.name) == (row.id, "acme", "ci")
    assert found.created_at.tzinfo is not None
    assert abs(found.created_at - datetime.now(UTC)) < timedelta(minutes=1)
    assert keys.store.get(row.id).last_used_at is not None  # type: ignore[union-attr]
    assert [k.tenant for k in keys.list()] == ["acme", "beta"]
    assert keys.store.count() == 2

    assert keys.revoke(row.id).revoked
    assert not keys.store.revoke(row.id, datetime.now(UTC))  # once only
    with pytest.raises(Unauthenticated, match="revoked"):
        keys.authenticate(plaintext)
    assert keys.authenticate(other).tenant == "beta"
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT * FROM api_keys")).all()
    assert all(plaintext not in str(tuple(r)) and other not in str(tuple(r)) for r in stored)

    duplicate = ApiKey(
        id="x", tenant="t", name="n", key_hash=hash_key(other), created_at=datetime.now(UTC)
    )
    with pytest.raises(IntegrityError):
        keys.store.add(duplicate)


def test_a_store_that_is_down_is_backend_unavailable(tmp_path: Path) -> None:
    store = SqlApiKeyStore(create_engine(f"sqlite:///{tmp_path / 'keys.db'}"))
    store.engine = create_engine(f"sqlite:///{tmp_path / 'missing' / 'keys.db'}")
    with pytest.raises(BackendUnavailable):
        store.find_by_hash("0" * 64)
