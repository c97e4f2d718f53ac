"""The per-key rate limit counted in Redis: every API process shares one budget.

With the Redis broker (production, N API replicas) `RateLimiter` would allow N times the
rate. `RedisRateLimiter` counts a key's requests in fixed one-minute windows (`INCR` and
`EXPIRE` in one transaction, the key named by the window), so all processes spend the same
count. A Redis that does not answer lets the request through (logged): a limit never takes
the API down with it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import redis

from pipelines.errors import RateLimited

log = logging.getLogger(__name__)


class RedisRateLimiter:
    """`take(key_id)`: `per_minute` requests per key and minute across processes."""

    def __init__(
        self,
        url: str,
        per_minute: int,
        *,
        prefix: str = "docsight:rate",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.per_minute = per_minute
        self._redis = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        self._prefix, self._clock = prefix, clock

    def take(self, key_id: str) -> None:
        if self.per_minute <= 0:
            return
        now = self._clock()
        window = int(now // 60)
        name = f"{self._prefix}:{key_id}:{window}"
        try:
            with self._redis.pipeline() as pipe:
                pipe.incr(name)
                pipe.expire(name, 120)
                count, _ = pipe.execute()
        except redis.RedisError as exc:
            log.warning("rate limit not counted (Redis: %s)", exc)
            return
        if int(count) > self.per_minute:
            wait = max(1.0, (window + 1) * 60 - now)
            raise RateLimited(
                f"rate limit of {self.per_minute} requests per minute reached; "
                f"retry in {wait:.0f} s",
                retry_after_s=wait,
            )

    def close(self) -> None:
        self._redis.close()
