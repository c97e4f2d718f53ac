"""Every hostile PDF of the dev set through the running service: each fails or succeeds alone."""

from __future__ import annotations

import json

import pytest

from pipelines.errors import InvalidDocument
from tests.edge_catalog import CATALOG, EDGE, allowed_errors, must_fail
from tests.integration.conftest import Server

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _codes(errors: tuple[type[InvalidDocument], ...]) -> set[str]:
    return {error.code for error in errors}


def test_every_edge_case_gets_the_catalog_outcome_and_the_worker_survives(server: Server) -> None:
    entries = [e for e in json.loads(CATALOG.read_text()) if (EDGE / e["file"]).exists()]
    assert len(entries) >= 30
    ids: dict[str, str] = {}
    with server.client() as client:
        for entry in entries:
            path = EDGE / entry["file"]
            data = {"password": entry["password"]} if entry["password"] else {}
            response = client.post(
                "/v1/documents",
                files={"files": (path.name, path.read_bytes(), "application/pdf")},
                data=data,
            )
            body = response.json()
            if body["accepted"]:
                assert response.status_code == 202
                ids[entry["file"]] = body["accepted"][0]["document"]["id"]
            else:  # rejected at upload: must be one of the errors the catalog allows
                assert body["rejected"][0]["error_code"] in _codes(allowed_errors(entry)), body
        docs = server.wait_final(client, list(ids.values()), timeout_s=600)
        for name, document_id in ids.items():
            entry = next(e for e in entries if e["file"] == name)
            allowed = allowed_errors(entry)  # by category and property, not by file name
            doc = docs[document_id]
            if doc["status"] == "failed":
                assert allowed, f"{name} failed: {doc['reason']}"
                assert doc["error_code"] in _codes(allowed), (name, doc)
                assert doc["reason"], name
            else:
                assert not must_fail(entry), f"{name} should have failed with {allowed}"
                assert doc["progress"]["pages_total"] >= 1, (name, doc)
        assert server.process.poll() is None
        ready = client.get("/ready").json()
        assert ready["components"]["worker"]["ok"], ready
