"""The embedded deployment end to end over HTTP, with real dev-set PDFs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from tests.devset import DEVSET
from tests.integration.conftest import Server, start_server, stop_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _contracts(n: int) -> list[Path]:
    rows = [json.loads(line) for line in (DEVSET / "cuad_annotations.jsonl").open()]
    paths = sorted(
        (DEVSET / "cuad" / row["pdf_path"] for row in rows), key=lambda p: p.stat().st_size
    )
    return paths[:n]


def _upload(client: httpx.Client, *paths: Path, password: str | None = None) -> httpx.Response:
    files = [("files", (p.name, p.read_bytes(), "application/pdf")) for p in paths]
    return client.post(
        "/v1/documents", files=files, data={"password": password} if password else {}
    )


def test_readiness_reports_each_component(server: Server) -> None:
    with server.client() as client:
        body = client.get("/ready").json()
    assert body["ready"] is True
    assert set(body["components"]) == {"store", "index", "embedder", "broker", "worker", "llm"}
    assert body["components"]["llm"]["ok"], body["components"]["llm"]
    assert "EdgeIndex" in body["components"]["index"]["detail"]
    assert "sqlite" in body["components"]["store"]["detail"]


def test_status_requests_repeat_no_warning_and_no_model_request(server: Server) -> None:
    """A monitor polling /ready and /v1/status: no warning line per request (kombu's "No
    hostname was supplied" was one), and the LLM asked for its model list at most every 10 s."""
    log = server.data_dir / "server.log"
    start = log.stat().st_size
    began = time.monotonic()
    with server.client() as client:
        for _ in range(5):
            assert client.get("/ready").status_code == 200
            assert client.get("/v1/status").status_code == 200
    time.sleep(0.5)  # the access lines of the last requests
    lines = log.read_bytes()[start:].decode(errors="replace").splitlines()
    assert sum('"GET /ready' in line for line in lines) == 5, lines[-5:]
    assert not [line for line in lines if "No hostname" in line or '"WARNING"' in line]
    asked = sum("/v1/models" in line and '"httpx"' in line for line in lines)
    assert asked <= 1 + (time.monotonic() - began) // 10, asked


def test_upload_several_watch_progress_search_delete(server: Server) -> None:
    paths = _contracts(2)
    with server.client() as client:
        response = _upload(client, *paths)
        assert response.status_code == 202
        ids = [item["document"]["id"] for item in response.json()["accepted"]]
        assert len(ids) == 2
        docs = server.wait_final(client, ids)
        for doc in docs.values():
            assert doc["status"] == "ready", doc
            progress = doc["progress"]
            assert progress["pages_parsed"] == progress["pages_total"] > 0
            assert progress["chunks_embedded"] == progress["chunks_total"] > 0

        again = _upload(client, paths[0]).json()["accepted"][0]
        assert again["duplicate"] is True
        assert again["document"]["id"] == ids[0]

        hits = client.post(
            "/v1/search",
            json={"query": "term of this agreement", "document_ids": [ids[0]], "limit": 5},
        ).json()["hits"]
        assert hits
        assert {hit["document_id"] for hit in hits} == {ids[0]}
        assert all(1 <= hit["page_start"] <= hit["page_end"] for hit in hits)
        assert any("agreement" in hit["text"].lower() for hit in hits)

        assert client.delete(f"/v1/documents/{ids[0]}").status_code == 204
        assert client.get(f"/v1/documents/{ids[0]}").status_code == 404
        assert (
            client.post(
                "/v1/search", json={"query": "governing law", "document_ids": [ids[0]]}
            ).status_code
            == 404
        )
        left = client.post("/v1/search", json={"query": "agreement", "limit": 50}).json()["hits"]
        assert left
        assert ids[0] not in {hit["document_id"] for hit in left}


def test_bad_uploads_get_clear_status_codes(server: Server, tmp_path: Path) -> None:
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    text = tmp_path / "notes.pdf"
    text.write_text("just some notes, not a PDF\n" * 10)
    with server.client() as client:
        r = _upload(client, empty)
        assert r.status_code == 400
        assert r.json()["rejected"][0]["error_code"] == "empty"
        r = _upload(client, text)
        assert r.status_code == 415
        assert "not a PDF" in r.json()["rejected"][0]["reason"]
        # One bad and one good file in one request: the good one is accepted.
        r = _upload(client, text, _contracts(3)[2])
        assert r.status_code == 202
        assert len(r.json()["accepted"]) == 1
        assert r.json()["rejected"][0]["filename"] == "notes.pdf"
        assert client.get("/v1/documents/no-such-id").status_code == 404


def test_oversized_upload_is_413(tmp_path: Path) -> None:
    small = start_server(
        tmp_path,
        DOCSIGHT_PARSER__MAX_UPLOAD_MB="0.01",
        DOCSIGHT_EMBEDDER__KIND="hash",
        DOCSIGHT_LLM__BASE_URL="http://127.0.0.1:9/v1",  # nothing listens there
    )
    try:
        with small.client() as client:
            ready = client.get("/ready")
            # No LLM: said clearly, and ingestion and search stay available.
            assert ready.status_code == 200
            assert not ready.json()["components"]["llm"]["ok"]
            assert "no LLM reachable" in ready.json()["components"]["llm"]["detail"]
            r = _upload(client, _contracts(1)[0])
        assert r.status_code == 413
        assert "limit" in r.json()["rejected"][0]["reason"]
    finally:
        stop_server(small)


def test_killed_server_resumes_unfinished_documents(tmp_path: Path) -> None:
    """SIGKILL mid-ingestion; on restart every document reaches ready with no duplicate point."""
    first = start_server(tmp_path)
    paths = _contracts(6)[3:]
    with first.client() as client:
        ids = [a["document"]["id"] for a in _upload(client, *paths).json()["accepted"]]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            statuses = {client.get(f"/v1/documents/{i}").json()["status"] for i in ids}
            if statuses & {"parsing", "indexing"}:
                break
            time.sleep(0.05)
    stop_server(first, kill=True)
    second = start_server(tmp_path)
    try:
        with second.client() as client:
            docs = second.wait_final(client, ids)
            assert all(d["status"] == "ready" for d in docs.values()), docs
            total = sum(d["progress"]["chunks_total"] for d in docs.values())
            # Every chunk once: a search over everything finds no more points than chunks.
            ready = client.get("/ready").json()["components"]["index"]["detail"]
            assert ready.endswith(f": {total} chunks"), ready
    finally:
        stop_server(second)
