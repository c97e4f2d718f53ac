"""An analysis job survives its LLM being down and its own server being killed.

A real server is configured with an LLM URL where nothing listens yet. A question gets a
clear 503 at once; a risk report becomes a job that waits (retried with backoff). The
server is killed (SIGKILL) and started again on the same data: the job is re-sent from
its row. Then a real llama-server comes up at that URL and the job finishes.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from services.adapters.llm_speed import Throughput
from services.runtime.local_models.llm_server import LocalLlmServer
from tests.integration.conftest import Server, start_server, stop_server
from tests.integration.test_analysis_api import _smallest_contract
from tests.llm import LOAD_MARGIN, cache_dir
from tests.servers import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FINISHED = ("done", "failed")


def _job_until(
    client: httpx.Client, job_id: str, statuses: tuple[str, ...], timeout_s: float
) -> dict:
    deadline = time.monotonic() + timeout_s
    job: dict = {}
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in statuses:
            return job
        time.sleep(0.5)
    raise AssertionError(f"job not {statuses} within {timeout_s}s: {job}")


def job_after_llm_returns(
    client: httpx.Client, job_id: str, local: LocalLlmServer, llm_port: int, timeout_s: float
) -> dict:
    """Start the real llama-server on `llm_port` and wait for the job to end. It must not be
    lost or failed for the outage; the 0.5B model may still give an unusable reply, and
    then the job says so (`llm_output_invalid`)."""
    local.start(port=llm_port)
    try:
        job = _job_until(client, job_id, FINISHED, timeout_s)
    finally:
        local.stop()
    assert job["attempts"] >= 2
    assert job["status"] == "done" or job["error_code"] == "llm_output_invalid", job
    return job


def answer_within_s(speed: Throughput) -> float:
    """How long a risk job may take once the LLM is back: its requests (about 6 of at most
    a 4,096 window and 512 output tokens) at the speed the session measured, with the tests'
    load margin (a shared machine runs 3-10x slower than when measured); at least 400 s, at
    most 2,700 s (the test's own pytest timeout is 3,000 s)."""
    return min(2700.0, max(400.0, LOAD_MARGIN * 6 * speed.expected_s(3584, 512)))


def outage_env(llm_port: int, model: str, **extra: str) -> dict[str, str]:
    """Server settings for an LLM at 127.0.0.1:`llm_port` that is not (yet) serving: one
    attempt per try, short backoff, retries that outlast the outage, a 4,096 window, one
    request at a time (a request queued in the server would use up its timeout there)."""
    return {
        "DOCSIGHT_LLM__BASE_URL": f"http://127.0.0.1:{llm_port}/v1",
        "DOCSIGHT_LLM__MODEL": model,
        "DOCSIGHT_LLM__MAX_MODEL_LEN": "4096",
        "DOCSIGHT_LLM__CONTEXT_BUDGET_TOKENS": "3584",
        "DOCSIGHT_LLM__MAX_OUTPUT_TOKENS": "512",
        "DOCSIGHT_LLM__MAX_RETRIES": "0",
        "DOCSIGHT_LLM__MAX_CONCURRENCY": "1",  # the server has one slot: none queue in it
        "DOCSIGHT_WORKER__ANALYSIS_RETRY_MAX_S": "2",
        "DOCSIGHT_WORKER__ANALYSIS_MAX_RETRIES": "1000",
    } | extra


# Slow under load by design: the job's requests run at whatever speed the machine allows.
@pytest.mark.timeout(3000)
def test_job_waits_for_the_llm_and_survives_a_killed_server(
    tmp_path: Path,
    llm_speed: Throughput,
) -> None:
    contract = _smallest_contract()
    llm_port = free_port()
    local = LocalLlmServer(cache_dir(), ctx=4096, parallel=1)
    env = outage_env(llm_port, local.model_name)
    server: Server | None = start_server(tmp_path, **env)
    try:
        with server.client() as client:
            upload = client.post(
                "/v1/documents",
                files=[("files", (contract.name, contract.read_bytes(), "application/pdf"))],
            )
            document_id = upload.json()["accepted"][0]["document"]["id"]
            assert server.wait_final(client, [document_id])[document_id]["status"] == "ready"

            question = client.post("/v1/questions", json={"question": "Who are the parties?"})
            assert question.status_code == 503
            assert question.json()["error_code"] == "llm_unavailable"
            assert f"127.0.0.1:{llm_port}" in question.json()["detail"]

            accepted = client.post(f"/v1/documents/{document_id}/risks")
            assert accepted.status_code == 202, accepted.text
            job_id = accepted.json()["id"]
            assert accepted.headers["location"] == f"/v1/jobs/{job_id}"
            waiting = _job_until(client, job_id, ("waiting",), 60)
            assert waiting["error_code"] == "llm_unavailable"
            again = client.post(f"/v1/documents/{document_id}/risks")
            assert (again.status_code, again.json()["id"]) == (202, job_id)

        stop_server(server, kill=True)
        server = None
        server = start_server(tmp_path, **env)
        with server.client() as client:
            assert client.get(f"/v1/jobs/{job_id}").json()["status"] in (
                "queued",
                "running",
                "waiting",
            )
            job = job_after_llm_returns(client, job_id, local, llm_port, answer_within_s(llm_speed))
            if job["status"] == "done":
                report = job["result"]["report"]
                assert report["document_id"] == document_id
                assert all(f["grounded"] and f["page"] >= 1 for f in report["findings"])
                everything = client.get(
                    f"/v1/jobs/{job_id}", params={"include_unverified": True}
                ).json()
                marked = everything["result"]["report"]["findings"]
                assert len(marked) == len(report["findings"]) + report["unverified_hidden"]
                assert sum(not f["grounded"] for f in marked) == report["unverified_hidden"]
                cached = client.post(f"/v1/documents/{document_id}/risks")
                assert cached.status_code == 200
                assert cached.json()["cached"] is True
                cli = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "services.cli.main",
                        "risks",
                        document_id,
                        "--url",
                        server.url,
                    ],
                    capture_output=True,
                    text=True,
                    timeout=120,
                    env=server.cli_env,
                )
                assert cli.returncode == 0, cli.stdout + cli.stderr
                assert f"{len(report['findings'])} findings) (cached)" in cli.stdout
            listed = client.get("/v1/jobs").json()["jobs"]
            assert [j["id"] for j in listed] == [job_id]
            print(f"job after the outage: {job['status']} in {job['attempts']} attempts")
    finally:
        if server is not None:
            stop_server(server)
