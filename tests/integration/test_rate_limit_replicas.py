"""Two API processes on one Redis and one PostgreSQL share one rate budget per key (issue 11,
defect 9): with `rate_per_minute` 10, the 11th request of a key is refused whichever
process gets it, where two processes counting apart would allow 20."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.integration.conftest import Server, start_server, stop_server
from tests.servers import postgres_bin, postgres_server, redis_bin, redis_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PER_MINUTE = 10


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    if postgres_bin() is None or redis_bin() is None:
        pytest.skip("PostgreSQL and redis-server are needed (make system-deps)")
    with redis_server() as redis_url, postgres_server() as store_url:
        env = {
            "DOCSIGHT_BROKER__MODE": "redis",
            "DOCSIGHT_BROKER__URL": redis_url,
            "DOCSIGHT_STORE__URL": store_url,
            "DOCSIGHT_EMBEDDER__KIND": "hash",
            "DOCSIGHT_LLM__BASE_URL": "http://127.0.0.1:9/v1",
            "DOCSIGHT_API__RATE_PER_MINUTE": str(PER_MINUTE),
        }
        first = start_server(tmp_path_factory.mktemp("replica-1"), **env)
        try:
            second = start_server(tmp_path_factory.mktemp("replica-2"), **env)
        except BaseException:
            stop_server(first)
            raise
        try:
            yield first, second
        finally:
            stop_server(second)
            stop_server(first)


def test_two_api_processes_allow_the_rate_once_not_twice(replicas: tuple[Server, Server]) -> None:
    first, second = replicas
    assert first.api_key is not None  # the first process made the tenant's key
    if time.time() % 60 > 45:  # the limit counts in one-minute windows: start in a fresh one
        time.sleep(61 - time.time() % 60)
    clients = [first.client(first.api_key), second.client(first.api_key)]
    try:
        codes = [clients[n % 2].get("/v1/documents").status_code for n in range(PER_MINUTE)]
        assert codes == [200] * PER_MINUTE  # the key works on both processes
        refused = [client.get("/v1/documents") for client in clients]
        assert [r.status_code for r in refused] == [429, 429]
        assert all(r.json()["error_code"] == "rate_limited" for r in refused)
        assert all(1 <= int(r.headers["retry-after"]) <= 60 for r in refused)
    finally:
        for client in clients:
            client.close()
