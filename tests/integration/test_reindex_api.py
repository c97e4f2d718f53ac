"""`docsight reindex` through a real server (embedded worker, SQLite, qdrant-edge): a
contract indexed with one embedder stays searchable after a restart with another (the
tenant is still on its old collection, whose embedder is loaded from its recorded spec);
`docsight reindex --wait` moves it, and search then answers from the new collection."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import REPO, Server, start_server, stop_server
from tests.integration.test_api import _contracts, _upload

pytestmark = [pytest.mark.integration]

NO_LLM = "http://127.0.0.1:9/v1"  # nothing listens there: ingestion and search only


def _server(data_dir: Path, dimension: int) -> Server:
    return start_server(
        data_dir,
        DOCSIGHT_EMBEDDER__KIND="hash",
        DOCSIGHT_EMBEDDER__MODEL=str(dimension),
        DOCSIGHT_LLM__BASE_URL=NO_LLM,
    )


def _search(client: httpx.Client, query: str) -> set[str]:
    response = client.post("/v1/search", json={"query": query, "limit": 5})
    assert response.status_code == 200, response.text
    return {hit["document_id"] for hit in response.json()["hits"]}


def test_a_tenant_moves_to_a_new_embedder_and_search_answers_throughout(tmp_path: Path) -> None:
    contract = _contracts(1)[0]
    first = _server(tmp_path, 64)
    try:
        with first.client() as client:
            accepted = _upload(client, contract).json()["accepted"]
            document_id = accepted[0]["document"]["id"]
            assert first.wait_final(client, [document_id])[document_id]["status"] == "ready"
            assert _search(client, "agreement") == {document_id}
            before = client.get("/v1/reindex").json()
        assert before["state"] == "none"
        assert before["up_to_date"] is True
        assert before["active"]["embedder"]["dimension"] == 64
    finally:
        stop_server(first)

    second = _server(tmp_path, 96)  # another embedder: another collection
    try:
        with second.client() as client:
            state = client.get("/v1/reindex").json()
            assert state["active"]["collection"] == "docsight_chunks"
            assert state["active"]["embedder"]["dimension"] == 64  # loaded from its spec
            assert state["current"] == {
                "collection": "docsight_chunks__hash-96",
                "embedder": {"kind": "hash", "model": "96", "dimension": 96, "url": None},
            }
            assert state["up_to_date"] is False
            assert _search(client, "agreement") == {document_id}  # the old collection

            moved = subprocess.run(
                [sys.executable, "-m", "services.cli", "reindex", "--wait", "--url", second.url],
                cwd=REPO,
                env=second.cli_env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert moved.returncode == 0, moved.stdout + moved.stderr
            assert "done" in moved.stdout
            assert "docsight_chunks__hash-96" in moved.stdout

            state = client.get("/v1/reindex").json()
            assert state["state"] == "done"
            assert state["up_to_date"] is True
            assert state["active"]["collection"] == "docsight_chunks__hash-96"
            assert state["active"]["embedder"]["dimension"] == 96
            assert state["documents"] == {"done": 1, "total": 1}
            assert _search(client, "agreement") == {document_id}  # the new collection
            again = client.post("/v1/reindex")
            assert again.status_code == 202
            assert again.json()["state"] == "done"  # nothing left to move
    finally:
        stop_server(second)
