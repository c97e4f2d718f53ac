"""API keys: who the caller is (its tenant), and how fast it may call.

`KeyService` creates keys (the plaintext is returned once, only its SHA-256 is stored),
lists and revokes them, and authenticates a presented key to its tenant. Lookups are
cached in memory for `cache_s` seconds, so a key revoked from another process (the admin
CLI) stops working within that time; one revoked through this service stops at once.

`RateLimiter` is a token bucket per key: `per_minute` requests, refilled continuously,
bursts up to the same number. It is per process: N API replicas allow N times the rate.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from pipelines.errors import NotFound, RateLimited, Unauthenticated
from services.app.ports import ApiKey, KeyStore
from services.app.ports import Limiter as Limiter  # re-exported

log = logging.getLogger(__name__)

PREFIX = "ds_"
_MAX_KEY_CHARS = 128
_MAX_CACHED = 10_000
_TOUCH_EVERY_S = 60.0  # last_used_at is written at most this often per key


def new_key() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class KeyService:
    def __init__(self, store: KeyStore, *, cache_s: float = 10.0) -> None:
        self.store = store
        self.cache_s = cache_s
        self._cache: dict[str, tuple[ApiKey | None, float]] = {}
        self._touched: dict[str, float] = {}
        self._lock = threading.Lock()

    def create(self, tenant: str, name: str) -> tuple[ApiKey, str]:
        """A new key of `tenant`: its row and the plaintext, which is not kept anywhere."""
        tenant, name = tenant.strip(), name.strip()
        if not tenant or len(tenant) > 64:
            raise ValueError("a tenant is 1 to 64 characters")
        if len(name) > 128:
            raise ValueError("a key name is at most 128 characters")
        plaintext = new_key()
        row = ApiKey(
            id=str(uuid.uuid4()),
            tenant=tenant,
            name=name or "unnamed",
            key_hash=hash_key(plaintext),
            created_at=datetime.now(UTC),
        )
        self.store.add(row)
        return row, plaintext

    def list(self, tenant: str | None = None) -> list[ApiKey]:
        return self.store.list(tenant)

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key (by id); revoking a revoked key is a no-op. NotFound if unknown."""
        key = self.store.get(key_id)
        if key is None:
            raise NotFound(f"no API key {key_id}")
        self.store.revoke(key_id, datetime.now(UTC))
        with self._lock:
            self._cache.pop(key.key_hash, None)
        return self.store.get(key_id) or key

    def authenticate(self, key: str | None) -> ApiKey:
        """The active key row of `key`; `Unauthenticated` when missing, unknown or revoked."""
        if not key:
            raise Unauthenticated(
                "missing API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"
            )
        if not key.startswith(PREFIX) or len(key) > _MAX_KEY_CHARS:
            raise Unauthenticated("invalid API key")
        digest = hash_key(key)
        found = self._lookup(digest)
        if found is None or not hmac.compare_digest(found.key_hash, digest):
            raise Unauthenticated("invalid API key")
        if found.revoked:
            raise Unauthenticated("API key revoked")
        self._touch(found)
        return found

    def first_key(self, tenant: str) -> str | None:
        """On a store without any key (revoked ones count): create one for `tenant` and
        return its plaintext; None otherwise."""
        if self.store.count():
            return None
        _, plaintext = self.create(tenant, "first key (created on start)")
        return plaintext

    def _lookup(self, digest: str) -> ApiKey | None:
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(digest)
        if cached is not None and cached[1] > now:
            return cached[0]
        found = self.store.find_by_hash(digest)
        with self._lock:
            if len(self._cache) >= _MAX_CACHED:  # unknown keys sent in bulk: start over
                self._cache.clear()
            self._cache[digest] = (found, now + self.cache_s)
        return found

    def _touch(self, key: ApiKey) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._touched.get(key.id, -_TOUCH_EVERY_S) < _TOUCH_EVERY_S:
                return
            self._touched[key.id] = now
        try:
            self.store.touch(key.id, datetime.now(UTC))
        except Exception:  # last_used_at is informative; never fail a request for it
            log.warning("could not record the use of API key %s", key.id, exc_info=True)


_MAX_BUCKETS = 100_000


class RateLimiter:
    """A token bucket per key id: `per_minute` requests a minute, bursts of as many."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key id -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key_id: str) -> None:
        """Spend one request of `key_id`; `RateLimited` (with the wait) when none is left."""
        self._spend(key_id, 1.0)

    def check(self, key_id: str) -> None:
        """`RateLimited` when `key_id` has no request left; spends nothing."""
        self._spend(key_id, 0.0)

    def _spend(self, key_id: str, cost: float) -> None:
        if self.per_minute <= 0:
            return
        rate = self.per_minute / 60.0
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.get(key_id, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - at) * rate)
            if tokens < 1.0:
                self._buckets[key_id] = (tokens, now)
                wait = (1.0 - tokens) / rate
                raise RateLimited(
                    f"rate limit of {self.per_minute} requests per minute reached; retry "
                    f"in {wait:.1f} s",
                    retry_after_s=wait,
                )
            self._buckets[key_id] = (tokens - cost, now)
            if len(self._buckets) > _MAX_BUCKETS:  # refilled buckets tell nothing: forget
                full = [
                    k
                    for k, (t, at) in self._buckets.items()
                    if t + (now - at) * rate >= self.per_minute
                ]
                for k in full:
                    del self._buckets[k]


def write_key_file(path: Path, key: str) -> None:
    """Write `key` to `path` readable by its owner only (0600), replacing it atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (key + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, path)
