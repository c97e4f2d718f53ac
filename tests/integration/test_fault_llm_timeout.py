"""The LLM accepts connections and never answers (a hung server): the analysis job waits
with a clear reason (the timeout) and finishes once a real llama-server takes the port.

The companion of test_jobs_api.py (nothing listening at all); same helpers, same model.
The server's request timeouts derive from the speed the session measured (its starting
estimate), so the hung server is noticed after what a real request of that size would take
with the safety factor, and the test waits for that, not a fixed 60 s.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from services.adapters.llm_speed import Throughput, TimeoutPolicy
from services.runtime.local_models.llm_server import LocalLlmServer
from tests.integration.conftest import Server, start_server, stop_server
from tests.integration.test_analysis_api import _smallest_contract
from tests.integration.test_jobs_api import (
    FINISHED,
    answer_within_s,
    job_after_llm_returns,
    outage_env,
)
from tests.llm import cache_dir
from tests.servers import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MAX_OUTPUT_TOKENS = 384
POLICY = TimeoutPolicy(factor=3.0, floor_s=20.0, ceiling_s=900.0)


@contextmanager
def silent_server(port: int) -> Iterator[list[socket.socket]]:
    """Accept every connection on 127.0.0.1:port, read nothing, answer nothing."""
    listener = socket.create_server(("127.0.0.1", port), reuse_port=False)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            accepted.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield accepted
    finally:
        stop.set()
        thread.join(5)
        listener.close()
        for conn in accepted:
            conn.close()


def _first_failure(client: httpx.Client, job_id: str, timeout_s: float) -> dict:
    """The job once an attempt failed (its error code and reason are kept until it ends)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["error_code"] is not None:
            return job
        assert job["status"] not in FINISHED, job
        time.sleep(0.3)
    raise AssertionError(f"no attempt failed within {timeout_s}s: {job}")


# Slow under load by design: the first timeout is what a request takes at the measured speed
# times 3, up to 15 minutes, and the model then still has to answer.
@pytest.mark.timeout(3000)
def test_job_waits_on_a_hung_llm_then_completes(tmp_path: Path, llm_speed: Throughput) -> None:
    contract = _smallest_contract()
    llm_port = free_port()
    local = LocalLlmServer(cache_dir(), ctx=4096, parallel=1)
    env = outage_env(
        llm_port,
        local.model_name,
        DOCSIGHT_LLM__MAX_OUTPUT_TOKENS=str(MAX_OUTPUT_TOKENS),
        DOCSIGHT_LLM__PROMPT_TPS=f"{llm_speed.prompt_tps:.3f}",
        DOCSIGHT_LLM__OUTPUT_TPS=f"{llm_speed.output_tps:.3f}",
        DOCSIGHT_LLM__TIMEOUT_FACTOR=str(POLICY.factor),
        DOCSIGHT_LLM__TIMEOUT_MIN_S=str(POLICY.floor_s),
        DOCSIGHT_LLM__TIMEOUT_S=str(POLICY.ceiling_s),
    )
    # The longest first timeout: a prompt of twice the window (the adapter's token estimate
    # is from above) and the whole output.
    first_timeout_s = POLICY.timeout_s(llm_speed, 2 * 4096, MAX_OUTPUT_TOKENS)
    server: Server = start_server(tmp_path, **env)
    try:
        with server.client() as client:
            upload = client.post(
                "/v1/documents",
                files=[("files", (contract.name, contract.read_bytes(), "application/pdf"))],
            )
            document_id = upload.json()["accepted"][0]["document"]["id"]
            assert server.wait_final(client, [document_id])[document_id]["status"] == "ready"

            with silent_server(llm_port) as hung:
                accepted = client.post(f"/v1/documents/{document_id}/risks")
                assert accepted.status_code == 202, accepted.text
                job_id = accepted.json()["id"]
                waiting = _first_failure(client, job_id, first_timeout_s + 60)
                assert hung, "the job never reached the LLM"
                # `waiting` until its retry (backoff capped at 2 s here), then running again.
                assert waiting["status"] in ("waiting", "running", "queued"), waiting
                assert waiting["error_code"] == "llm_unavailable", waiting
                assert re.search(r"did not answer within [0-9.]+s", waiting["reason"]), waiting
                assert f"127.0.0.1:{llm_port}" in waiting["reason"]

            job = job_after_llm_returns(client, job_id, local, llm_port, answer_within_s(llm_speed))
            if job["status"] == "done":
                assert job["result"]["report"]["document_id"] == document_id
            print(f"job after the hung LLM: {job['status']} in {job['attempts']} attempts")
    finally:
        stop_server(server)
