"""One tenant's long polls cannot stall the service (issue 11, defect 1).

A real server; tenant A's risk job waits for an LLM that is not there. Two hundred
concurrent `GET /v1/jobs/{id}?wait=20` from A are in flight while tenant B searches and a
monitor calls `/health`: their p95 stays under 1 s. Before, each wait held one of the API's
~40 worker threads, and B's requests queued behind them for the whole wait.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import start_server, stop_server
from tests.integration.test_analysis_api import _smallest_contract
from tests.integration.test_tenants import _create_key
from tests.servers import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]
POLLS = 200
WAIT_S = 20


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


async def _scenario(
    url: str, key_a: str, key_b: str, job_id: str
) -> tuple[list[int], list[float], list[float]]:
    limits = httpx.Limits(max_connections=POLLS + 10, max_keepalive_connections=POLLS + 10)
    async with (
        httpx.AsyncClient(
            base_url=url,
            limits=limits,
            timeout=WAIT_S + 60,
            headers={"Authorization": f"Bearer {key_a}"},
        ) as a,
        httpx.AsyncClient(
            base_url=url, timeout=30, headers={"Authorization": f"Bearer {key_b}"}
        ) as b,
    ):
        polls = [
            asyncio.create_task(a.get(f"/v1/jobs/{job_id}", params={"wait": WAIT_S}))
            for _ in range(POLLS)
        ]
        await asyncio.sleep(2)  # the polls are in and waiting
        searches: list[float] = []
        health: list[float] = []
        for n in range(20):
            started = time.perf_counter()
            found = await b.post("/v1/search", json={"query": f"termination notice {n}"})
            searches.append(time.perf_counter() - started)
            assert found.status_code == 200, found.text
            started = time.perf_counter()
            assert (await b.get("/health")).status_code == 200
            health.append(time.perf_counter() - started)
        assert not all(task.done() for task in polls), "the polls ended before the check"
        statuses = [(await task).status_code for task in polls]
    return statuses, searches, health


def test_long_polls_of_one_tenant_leave_the_others_served(tmp_path: Path) -> None:
    contract = _smallest_contract()
    server = start_server(
        tmp_path,
        **{
            "DOCSIGHT_EMBEDDER__KIND": "hash",
            "DOCSIGHT_LLM__BASE_URL": f"http://127.0.0.1:{free_port()}/v1",  # nothing listens
            "DOCSIGHT_LLM__MAX_RETRIES": "0",
            "DOCSIGHT_API__RATE_PER_MINUTE": "0",
        },
    )
    try:
        assert server.api_key is not None
        _, key_b = _create_key(server, "tenant-b")
        with server.client() as a, server.client(key_b) as b:
            ids = []
            for client in (a, b):
                upload = client.post(
                    "/v1/documents",
                    files=[("files", (contract.name, contract.read_bytes(), "application/pdf"))],
                )
                ids.append(upload.json()["accepted"][0]["document"]["id"])
            server.wait_final(a, ids[:1])
            server.wait_final(b, ids[1:])
            job = a.post(f"/v1/documents/{ids[0]}/risks")
            assert job.status_code == 202, job.text
        statuses, searches, health = asyncio.run(
            _scenario(server.url, server.api_key, key_b, job.json()["id"])
        )
    finally:
        stop_server(server)
    assert statuses == [200] * POLLS  # each answered with the job as it stands
    print(
        f"other tenant's search p95 {_p95(searches):.3f} s, /health p95 "
        f"{_p95(health):.3f} s during {POLLS} long polls"
    )
    assert _p95(searches) < 1.0
    assert _p95(health) < 1.0
