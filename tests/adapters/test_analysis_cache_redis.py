"""The analysis cache contract on both implementations: SqlAnalysisCache (SQLite) and
RedisAnalysisCache against a real redis-server on loopback. Redis also: entries expire after
the TTL, keys outside its prefix are left alone, and a stopped server gives
BackendUnavailable."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine

from pipelines.errors import BackendUnavailable
from services.adapters.analysis_cache import SqlAnalysisCache
from services.adapters.analysis_cache_redis import RedisAnalysisCache
from services.adapters.schema import prepare
from services.app.cache import AnalysisCache
from services.runtime.composition import build_analysis_cache
from services.settings import Settings
from tests.servers import free_port, redis_bin, redis_server

needs_redis = pytest.mark.skipif(
    redis_bin() is None, reason="redis-server not installed (apt-get install redis-server)"
)


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    if redis_bin() is None:
        pytest.skip("redis-server not installed (apt-get install redis-server)")
    with redis_server() as url:
        yield url


def new_redis_cache(url: str, ttl_s: float = 60.0) -> RedisAnalysisCache:
    """A cache under a prefix of its own, so tests sharing the server do not see each other."""
    return RedisAnalysisCache(url, ttl_s=ttl_s, prefix=f"test:{uuid.uuid4().hex}:")


@pytest.fixture(params=["sql", pytest.param("redis", marks=needs_redis)])
def cache(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AnalysisCache]:
    if request.param == "sql":
        engine = create_engine(f"sqlite:///{tmp_path / 'cache.db'}")
        prepare(engine, upgrade=True)
        yield SqlAnalysisCache(engine)
        engine.dispose()
    else:
        redis_cache = new_redis_cache(request.getfixturevalue("redis_url"))
        yield redis_cache
        redis_cache.close()


def test_get_put_and_replace(cache: AnalysisCache) -> None:
    assert cache.get("k1") is None
    cache.put("k1", '{"a": "甲方"}', kind="answers", tenant="t1")
    assert cache.get("k1") == '{"a": "甲方"}'
    cache.put("k1", '{"a": 2}', kind="answers", tenant="t1")
    assert cache.get("k1") == '{"a": 2}'
    assert cache.get("k2") is None


def test_forget_document_removes_only_its_entries(cache: AnalysisCache) -> None:
    cache.put("s1", "summary", kind="summaries", tenant="t1", document_id="d1")
    cache.put("r1", "risks", kind="risks", tenant="t1", document_id="d1")
    cache.put("s2", "other summary", kind="summaries", tenant="t1", document_id="d2")
    cache.put("a1", "answer", kind="answers", tenant="t1")
    assert cache.forget_document("d1") == 2
    assert cache.get("s1") is None
    assert cache.get("r1") is None
    assert cache.get("s2") == "other summary"
    assert cache.get("a1") == "answer"
    assert cache.forget_document("d1") == 0
    # A document's entries put again after it was forgotten are indexed again.
    cache.put("s1", "summary 2", kind="summaries", tenant="t1", document_id="d1")
    assert cache.forget_document("d1") == 1


def test_an_answer_is_forgotten_with_any_document_it_cites(cache: AnalysisCache) -> None:
    cache.put("a1", "answer", kind="answers", tenant="t1", document_ids=["d1", "d2"])
    cache.put("a2", "other", kind="answers", tenant="t1", document_ids=["d1"])
    cache.put("a3", "third", kind="answers", tenant="t1", document_ids=["d3"])
    assert cache.forget_document("d2") == 1
    assert (cache.get("a1"), cache.get("a2"), cache.get("a3")) == (None, "other", "third")
    assert cache.forget_document("d1") == 1
    assert cache.get("a2") is None
    assert cache.purge("t1") == 1


def test_purge_by_tenant_then_all(cache: AnalysisCache) -> None:
    cache.put("a1", "x", kind="answers", tenant="t1")
    cache.put("s1", "y", kind="summaries", tenant="t1", document_id="d1")
    cache.put("a2", "z", kind="answers", tenant="t2")
    cache.put("s2", "w", kind="summaries", tenant="t2", document_id="d2")
    assert cache.purge("t1") == 2
    assert cache.get("a1") is None
    assert cache.get("s1") is None
    assert cache.get("a2") == "z"
    assert cache.purge("t1") == 0
    assert cache.purge() == 2
    assert cache.get("a2") is None
    assert cache.get("s2") is None


@needs_redis
def test_redis_entries_expire_after_the_ttl(redis_url: str) -> None:
    cache = new_redis_cache(redis_url, ttl_s=0.3)
    cache.put("a1", "x", kind="answers", tenant="t1", document_id="d1")
    assert cache.get("a1") == "x"
    assert 0 < cache.client.pttl(cache._entry("a1")) <= 300
    time.sleep(0.5)
    assert cache.get("a1") is None
    assert cache.client.exists(cache._tenant("t1"), cache._document("d1")) == 0
    assert cache.forget_document("d1") == 0
    cache.close()


@needs_redis
def test_redis_purge_all_leaves_other_keys(redis_url: str) -> None:
    cache = new_redis_cache(redis_url)
    other = redis.Redis.from_url(redis_url, decode_responses=True)
    other.set("celery-like-key", "keep")
    cache.put("a1", "x", kind="answers", tenant="t1", document_id="d1")
    assert cache.purge() == 1
    assert other.get("celery-like-key") == "keep"
    assert other.keys(f"{cache.prefix}*") == []
    other.delete("celery-like-key")
    other.close()
    cache.close()


@needs_redis
def test_redis_down_raises_backend_unavailable() -> None:
    with redis_server() as url:
        cache = RedisAnalysisCache(url, timeout_s=1.0)
        cache.put("a1", "x", kind="answers", tenant="t1")
        assert cache.ping()
    # The server is stopped now.
    assert not cache.ping()
    calls = [
        lambda: cache.get("a1"),
        lambda: cache.put("a2", "y", kind="answers", tenant="t1"),
        lambda: cache.forget_document("d1"),
        lambda: cache.purge("t1"),
        lambda: cache.purge(),
    ]
    for call in calls:
        with pytest.raises(BackendUnavailable, match="redis"):
            call()
    never = RedisAnalysisCache(f"redis://127.0.0.1:{free_port()}/0", timeout_s=1.0)
    with pytest.raises(BackendUnavailable):
        never.get("a1")
    cache.close()
    never.close()


@needs_redis
def test_settings_choose_the_redis_cache(redis_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, cache={"mode": "redis", "url": redis_url, "ttl_s": 90})
    cache = build_analysis_cache(settings, store=None)  # type: ignore[arg-type]
    assert isinstance(cache, RedisAnalysisCache)
    cache.put("a1", "x", kind="answers", tenant="t1")
    assert 80_000 < cache.client.pttl(cache._entry("a1")) <= 90_000
    cache.purge("t1")
    cache.close()


def test_redis_mode_needs_a_url() -> None:
    with pytest.raises(ValueError, match="DOCSIGHT_CACHE__URL"):
        Settings(cache={"mode": "redis"})
