"""Analysis results (answers, summaries, risk reports) cached in Redis, shared by API replicas.

The same four methods as `SqlAnalysisCache`. Layout under `prefix`:

- `entry:<key>`: the JSON text, expiring after `ttl_s`;
- `tenant:<tenant>` and `document:<id>`: sets of the keys put for that tenant / document
  (an answer is indexed under every document it cites),
  so `purge(tenant)` and `forget_document` find their entries. An index set's expiry is
  pushed back to `ttl_s` at every put, so it outlives its entries; members whose entry has
  already expired are harmless (deleting them counts nothing).

Deleting through an index runs as one Lua script, so a concurrent `put` is either removed
with it or kept indexed. Every redis error becomes `BackendUnavailable` here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import redis

from pipelines.errors import BackendUnavailable

# KEYS[1]: an index set; ARGV[1]: the entry prefix. Deletes the set's entries and the set.
_DELETE_INDEXED = """
local n = 0
for _, key in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  n = n + redis.call('DEL', ARGV[1] .. key)
end
redis.call('DEL', KEYS[1])
return n
"""


@contextmanager
def _converted() -> Iterator[None]:
    try:
        yield
    except redis.RedisError as exc:
        raise BackendUnavailable(f"analysis cache (redis) unavailable: {exc}") from exc


class RedisAnalysisCache:
    """Key -> JSON text in the Redis at `url` (redis://host:6379/0), each entry kept `ttl_s`."""

    def __init__(
        self,
        url: str,
        *,
        ttl_s: float = 7 * 24 * 3600,
        prefix: str = "docsight:analysis:",
        timeout_s: float = 5.0,
    ) -> None:
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        self.ttl_ms = max(1, round(ttl_s * 1000))
        self.prefix = prefix
        with _converted():
            self.client = redis.Redis.from_url(
                url,
                decode_responses=True,
                socket_timeout=timeout_s,
                socket_connect_timeout=timeout_s,
            )
            self._delete_indexed = self.client.register_script(_DELETE_INDEXED)

    def get(self, key: str) -> str | None:
        """The cached JSON text, or None (also once it expired)."""
        with _converted():
            value = self.client.get(self._entry(key))
        return None if value is None else str(value)

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
        """Store (or replace) one entry, indexed by tenant and by each of its documents
        (`document_id` and the `document_ids` it cites)."""
        indexes = [self._tenant(tenant)]
        ids = ([] if document_id is None else [document_id]) + list(document_ids)
        indexes += [self._document(d) for d in dict.fromkeys(ids)]
        with _converted():
            pipe = self.client.pipeline(transaction=True)
            pipe.set(self._entry(key), value, px=self.ttl_ms)
            for index in indexes:
                pipe.sadd(index, key)
                pipe.pexpire(index, self.ttl_ms)
            pipe.execute()

    def forget_document(self, document_id: str) -> int:
        """Remove the entries put for one document; returns how many."""
        return self._delete_index(self._document(document_id))

    def purge(self, tenant: str | None = None) -> int:
        """Remove every entry (of one tenant); returns how many."""
        if tenant is not None:
            return self._delete_index(self._tenant(tenant))
        removed = 0
        with _converted():
            for name in self.client.scan_iter(match=f"{_glob_escape(self.prefix)}*", count=500):
                deleted = int(self.client.delete(name))
                if str(name).startswith(self._entry("")):
                    removed += deleted
        return removed

    def ping(self) -> bool:
        """True when the server answers."""
        try:
            return bool(self.client.ping())
        except redis.RedisError:
            return False

    def close(self) -> None:
        self.client.close()

    # --- key names ------------------------------------------------------------------

    def _entry(self, key: str) -> str:
        return f"{self.prefix}entry:{key}"

    def _tenant(self, tenant: str) -> str:
        return f"{self.prefix}tenant:{tenant}"

    def _document(self, document_id: str) -> str:
        return f"{self.prefix}document:{document_id}"

    def _delete_index(self, index: str) -> int:
        with _converted():
            return int(self._delete_indexed(keys=[index], args=[self._entry("")]))


def _glob_escape(text: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)
