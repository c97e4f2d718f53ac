"""The real server on the production backends it can reach on loopback: a Redis broker (the
embedded worker consumes from Redis) and a PostgreSQL metadata store (documents, jobs and
the analysis cache tables), the index staying edge. A dev-set contract goes to ready; the
server's /metrics, /v1/status, `docsight status` and its JSON log lines say so."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.integration.conftest import REPO, Server, start_server, stop_server
from tests.integration.test_api import _contracts, _upload
from tests.servers import postgres_bin, postgres_server, redis_bin, redis_server
from tests.unit.test_metrics import sample

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if postgres_bin() is None or redis_bin() is None:
        pytest.skip("PostgreSQL and redis-server are needed (make system-deps)")
    with postgres_server() as store_url, redis_server() as broker_url:
        running = start_server(
            tmp_path_factory.mktemp("docsight"),
            DOCSIGHT_BROKER__MODE="redis",
            DOCSIGHT_BROKER__URL=broker_url,
            DOCSIGHT_STORE__URL=store_url,
            DOCSIGHT_LLM__BASE_URL="http://127.0.0.1:9/v1",  # no LLM needed to ingest
            DOCSIGHT_LOG__FORMAT="json",
        )
        try:
            yield running
        finally:
            stop_server(running)


def test_a_contract_is_ingested_through_redis_into_postgres(server: Server) -> None:
    with server.client() as client:
        components = client.get("/ready").json()["components"]
        assert components["store"]["detail"] == "postgresql"
        assert components["broker"]["detail"].startswith("redis://")

        response = _upload(client, _contracts(1)[0])
        assert response.status_code == 202
        document_id = response.json()["accepted"][0]["document"]["id"]
        doc = server.wait_final(client, [document_id])[document_id]
        assert doc["status"] == "ready", doc

        status = client.get("/v1/status", headers={"X-Request-ID": "it-status-1"})
        assert status.headers["x-request-id"] == "it-status-1"
        assert status.json() == {
            "queues": {"ingest": 0, "analysis": 0, "index": 0},
            "jobs": {},
            "documents": {"ready": 1},
        }
        text = client.get("/metrics").text
    assert sample(text, "docsight_documents", status="ready") == 1.0
    assert sample(text, "docsight_queue_depth", queue="ingest") == 0.0
    for task in ("docsight.parse_document", "docsight.index_document"):
        runs = sample(text, "docsight_task_duration_seconds_count", state="success", task=task)
        assert runs is not None, task
        assert runs >= 1, task

    cli = subprocess.run(
        [sys.executable, "-m", "services.cli.main", "status", "--url", server.url],
        cwd=REPO,
        env=server.cli_env | {"COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "queued messages: analysis 0, index 0, ingest 0" in cli.stdout, cli.stdout
    assert "documents: ready 1" in cli.stdout

    log_lines = [
        json.loads(line)
        for line in (server.data_dir / "server.log").read_text().splitlines()
        if line.startswith("{")
    ]
    assert any(
        line.get("request_id") == "it-status-1" and line["logger"] == "uvicorn.access"
        for line in log_lines
    )
    task_lines = [line for line in log_lines if line.get("document_id") == document_id]
    assert any("succeeded" in line["message"] for line in task_lines), task_lines[-5:]


def test_the_store_tables_work_on_postgres(server: Server) -> None:
    """The jobs and analysis-cache tables were created on PostgreSQL at start; a summary
    request becomes a job row there (it waits: no LLM reachable)."""
    with server.client() as client:
        docs = client.get("/v1/documents").json()["documents"]
        ready = [d["id"] for d in docs if d["status"] == "ready"]
        assert ready
        response = client.post(f"/v1/documents/{ready[0]}/summary")
        assert response.status_code == 202, response.text
        job = client.get(f"/v1/jobs/{response.json()['id']}").json()
        assert job["status"] in ("queued", "running", "waiting")
        assert sum(client.get("/v1/status").json()["jobs"].values()) == 1
        assert client.get("/v1/analysis/cache").status_code == 200
