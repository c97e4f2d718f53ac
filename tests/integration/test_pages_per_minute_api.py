"""Pages per minute per tenant through a real server: two documents of more pages than the
limit are accepted together; the first parsed uses the minute, so the other waits `queued`
with the limit as its reason and an upload meanwhile gets 429; a minute later the waiting
document is parsed (its delayed message re-sent through the broker) and becomes ready."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pypdfium2
import pytest

from tests.integration.conftest import start_server, stop_server
from tests.integration.test_api import _contracts, _upload

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LIMIT = 5


def _pages(path: Path) -> int:
    return len(pypdfium2.PdfDocument(path.read_bytes()))


def test_pages_per_minute_refuses_uploads_and_defers_parsing(tmp_path: Path) -> None:
    contracts = _contracts(25)
    big = [p for p in contracts if _pages(p) > LIMIT][:2]
    small = next(p for p in contracts if _pages(p) == 1)
    server = start_server(
        tmp_path,
        DOCSIGHT_PARSER__PAGES_PER_MINUTE=str(LIMIT),
        DOCSIGHT_WORKER__CONCURRENCY="1",
        DOCSIGHT_LLM__BASE_URL="http://127.0.0.1:9/v1",
    )
    try:
        with server.client() as client:
            accepted = _upload(client, *big)
            assert accepted.status_code == 202, accepted.text
            ids = [item["document"]["id"] for item in accepted.json()["accepted"]]

            waiting = _until_waiting(client, ids)
            first = next(i for i in ids if i != waiting["id"])
            assert waiting["status"] == "queued"
            assert waiting["error_code"] == "pages_per_minute"
            assert f"the limit is {LIMIT} pages per minute" in waiting["reason"]

            refused = _upload(client, small)
            assert refused.status_code == 429, refused.text
            rejected = refused.json()["rejected"][0]
            assert rejected["error_code"] == "pages_per_minute"
            assert f"the limit is {LIMIT} pages per minute" in rejected["reason"]
            assert [
                d["id"]
                for d in client.get("/v1/documents").json()["documents"]
                if d["id"] not in ids
            ] == []

            final = server.wait_final(client, ids, timeout_s=120)
            assert final[first]["status"] == final[waiting["id"]]["status"] == "ready"
            assert final[waiting["id"]]["error_code"] is None
    finally:
        stop_server(server)


def _until_waiting(client: httpx.Client, ids: list[str], timeout_s: float = 60) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for document_id in ids:
            doc = client.get(f"/v1/documents/{document_id}").json()
            if doc.get("error_code") == "pages_per_minute":
                return doc
        time.sleep(0.3)
    raise AssertionError(f"no document waited for the pages-per-minute limit: {ids}")
