"""The per-key rate limit in Redis is one budget for every API process (issue 11, defect 9):
two limiters on one real Redis, as two API replicas hold them, allow `per_minute` in all."""

from __future__ import annotations

import pytest

from pipelines.errors import RateLimited
from services.adapters.rate_limit_redis import RedisRateLimiter
from services.app.auth import RateLimiter
from tests.servers import redis_bin, redis_server

pytestmark = pytest.mark.skipif(redis_bin() is None, reason="redis-server not installed")


def test_two_processes_share_one_budget_per_key_and_minute() -> None:
    clock = [600.0]  # the start of a minute
    with redis_server() as url:
        first = RedisRateLimiter(url, 5, clock=lambda: clock[0])
        second = RedisRateLimiter(url, 5, clock=lambda: clock[0])
        for n in range(5):
            (first if n % 2 else second).take("key-a")
        with pytest.raises(RateLimited) as refused:
            first.take("key-a")
        assert 1 <= (refused.value.retry_after_s or 0) <= 60
        with pytest.raises(RateLimited):
            second.take("key-a")
        second.take("key-b")  # another key has its own budget
        clock[0] += 60  # the next minute
        first.take("key-a")
        first.close()
        second.close()
    per_process = [RateLimiter(5), RateLimiter(5)]  # what N replicas allowed before: N x 5
    for n in range(10):
        per_process[n % 2].take("key-a")


def test_a_redis_that_does_not_answer_lets_requests_through() -> None:
    from tests.servers import free_port

    limiter = RedisRateLimiter(f"redis://127.0.0.1:{free_port()}/0", 1)
    for _ in range(3):
        limiter.take("key-a")  # logged, not refused: a limit never takes the API down
