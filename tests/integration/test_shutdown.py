"""SIGTERM stops the server within 10 s even while requests wait on the LLM, and nothing
is lost (issue 11, defect 7). The LLM is a socket that accepts and never answers."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import start_server, stop_server
from tests.integration.test_analysis_api import _smallest_contract

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _black_hole() -> tuple[socket.socket, int]:
    """A listening socket that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    return listener, listener.getsockname()[1]


def test_sigterm_stops_within_10_s_while_requests_wait_on_the_llm(tmp_path: Path) -> None:
    listener, port = _black_hole()
    env = {
        "DOCSIGHT_EMBEDDER__KIND": "hash",
        "DOCSIGHT_LLM__BASE_URL": f"http://127.0.0.1:{port}/v1",
        "DOCSIGHT_LLM__MAX_RETRIES": "0",
        "DOCSIGHT_LLM__TIMEOUT_S": "300",
    }
    server = start_server(tmp_path, **env)
    contract = _smallest_contract()
    try:
        with server.client() as client:
            upload = client.post(
                "/v1/documents",
                files=[("files", (contract.name, contract.read_bytes(), "application/pdf"))],
            )
            document_id = upload.json()["accepted"][0]["document"]["id"]
            server.wait_final(client, [document_id])
            job = client.post(f"/v1/documents/{document_id}/risks")  # a job on the LLM
            assert job.status_code == 202

        def ask() -> None:
            try:
                with server.client() as asking:
                    asking.post(
                        "/v1/questions", json={"question": "Who are the parties?"}, timeout=120
                    )
            except httpx.HTTPError:
                pass  # cut by the shutdown: expected

        waiting = [threading.Thread(target=ask, daemon=True) for _ in range(3)]
        for thread in waiting:
            thread.start()
        time.sleep(3)  # the questions and the job now wait on the silent LLM
        started = time.monotonic()
        server.process.terminate()
        server.process.wait(timeout=60)
        took = time.monotonic() - started
    finally:
        if server.process.poll() is None:
            stop_server(server, kill=True)
        listener.close()
    print(f"stopped {took:.1f} s after SIGTERM")
    assert took < 10

    again = start_server(tmp_path, **env | {"DOCSIGHT_LLM__BASE_URL": "http://127.0.0.1:9/v1"})
    try:
        with again.client() as client:
            assert client.get(f"/v1/documents/{document_id}").json()["status"] == "ready"
            jobs = client.get("/v1/jobs").json()["jobs"]
            assert [j["id"] for j in jobs] == [job.json()["id"]]  # still there, to resume
            assert jobs[0]["status"] in ("queued", "running", "waiting")
    finally:
        stop_server(again)
