"""Two tenants on one real server (embedded worker and llama-server): tenant B never sees
tenant A's documents. Every endpoint with a document or job id in its path answers B
with 404 for A's ids (enumerated from the OpenAPI schema, so a new one is covered); B's
list, search and question hold nothing of A's; no key, a wrong key and a revoked key get
401 on every endpoint but the open ones. Keys are made and revoked with `docsight keys`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.devset import DEVSET
from tests.integration.conftest import REPO, Server, start_server, stop_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OPEN = {"/health", "/ready", "/metrics"}


def _two_small_contracts() -> list[Path]:
    rows = [json.loads(line) for line in (DEVSET / "cuad_annotations.jsonl").open()]
    paths = {DEVSET / "cuad" / row["pdf_path"] for row in rows}
    return sorted((p for p in paths if p.exists()), key=lambda p: p.stat().st_size)[:2]


def _keys(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "services.cli.main", "keys", *args],
        cwd=REPO,
        env=server.env | {"COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _create_key(server: Server, tenant: str) -> tuple[str, str]:
    """(key id, key) of a new key of `tenant`, made with the admin CLI."""
    out = _keys(server, "create", "--tenant", tenant, "--name", f"{tenant} test").stdout
    key_id = re.search(r"created key ([0-9a-f-]{36}) of tenant", out)
    assert key_id is not None, out
    return key_id.group(1), out.strip().splitlines()[-1]


def _upload(client: httpx.Client, path: Path) -> str:
    r = client.post(
        "/v1/documents", files=[("files", (path.name, path.read_bytes(), "application/pdf"))]
    )
    assert r.status_code == 202, r.text
    document_id: str = r.json()["accepted"][0]["document"]["id"]
    return document_id


def _operations(client: httpx.Client) -> list[tuple[str, str]]:
    """(method, path template) of every operation in the server's OpenAPI schema."""
    schema = client.get("/openapi.json").json()
    return [
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def _distinctive_phrase(text: str) -> str:
    """Eight consecutive words of a chunk of A's text (letters only), as a search query."""
    words = [w for w in re.findall(r"[A-Za-z]+", text) if len(w) > 2]
    assert len(words) >= 12, text
    return " ".join(words[2:10])


def _wait_unauthenticated(client: httpx.Client, timeout_s: float = 30) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    while True:
        r = client.get("/v1/documents")
        if r.status_code == 401 or time.monotonic() > deadline:
            return r
        time.sleep(0.2)


def test_tenant_b_never_sees_tenant_a(tmp_path: Path) -> None:
    if not (DEVSET / "cuad_annotations.jsonl").exists():
        pytest.skip("dev set not present")
    contract_a, contract_b = _two_small_contracts()
    server = start_server(
        tmp_path,
        DOCSIGHT_LLM__MAX_OUTPUT_TOKENS="48",
        DOCSIGHT_LLM__LOCAL_CTX="1536",
        DOCSIGHT_API__KEY_CACHE_S="0.5",
        # every operation is tried without a key and with a wrong one: more than the
        # default 60 unauthenticated requests a minute from one address
        DOCSIGHT_API__UNAUTHENTICATED_PER_MINUTE="1000",
    )
    try:
        assert server.api_key, "the first start writes <data_dir>/api_key"
        # Printed once on the console, in no log line, and only the owner reads the file.
        assert (tmp_path / "server.log").read_text().count(server.api_key) == 1
        assert (tmp_path / "api_key").stat().st_mode & 0o777 == 0o600
        _, key_a = _create_key(server, "tenant-a")
        key_b_id, key_b = _create_key(server, "tenant-b")
        listed = _keys(server, "list").stdout
        assert key_b_id in listed
        assert key_a not in listed
        assert key_b not in listed
        with (
            server.client(key_a) as a,
            server.client(key_b) as b,
            server.client(authenticated=False) as anonymous,
        ):
            a.timeout = b.timeout = 240
            doc_a = _upload(a, contract_a)
            assert server.wait_final(a, [doc_a])[doc_a]["status"] == "ready"
            assert b.get("/v1/documents").json()["documents"] == []
            assert b.get("/v1/status").json()["documents"] == {}  # not even A's counts
            assert a.get("/v1/status").json()["documents"] == {"ready": 1}
            with server.client() as default:  # the first key: the default tenant
                assert default.get("/v1/documents").json()["documents"] == []

            # Every operation with a document or job id in its path: 404 for B.
            job = a.post(f"/v1/documents/{doc_a}/summary")
            assert job.status_code in (200, 202), job.text
            job_id = job.json().get("id")
            operations = _operations(anonymous)
            with_ids = [
                (m, p)
                for m, p in operations
                if "{document_id}" in p or ("{job_id}" in p and job_id)
            ]
            assert len(with_ids) >= 5, with_ids  # GET/DELETE document, summary, risks, job
            for method, template in with_ids:
                path = template.replace("{document_id}", doc_a).replace("{job_id}", job_id or "")
                r = b.request(method, path)
                assert r.status_code == 404, (method, path, r.status_code, r.text)
                assert contract_a.name not in r.text
                # The same answer as for an id that never existed (the id is echoed).
                fake = str(uuid.uuid4())
                never = b.request(
                    method, template.replace("{document_id}", fake).replace("{job_id}", fake)
                )
                assert never.status_code == 404
                assert r.text.replace(doc_a, "ID").replace(
                    job_id or "-", "ID"
                ) == never.text.replace(fake, "ID"), (r.text, never.text)
            assert a.get(f"/v1/documents/{doc_a}").status_code == 200  # B's DELETE did nothing
            assert all(j["document_id"] != doc_a for j in b.get("/v1/jobs").json()["jobs"])

            # A's report of today exists (building); B's does not.
            today = datetime.now(UTC).date()
            assert a.post(f"/v1/reports/{today}").status_code in (200, 202)
            assert b.get(f"/v1/reports/{today}").status_code == 404
            assert b.get("/v1/reports").json()["reports"] == []

            # Search and questions: nothing of A's text reaches B, even with A's id.
            hits_a = a.post("/v1/search", json={"query": "agreement", "limit": 3}).json()["hits"]
            assert hits_a
            assert all(h["document_id"] == doc_a for h in hits_a)
            phrase = _distinctive_phrase(hits_a[0]["text"])
            assert a.post("/v1/search", json={"query": phrase}).json()["hits"]
            assert b.post("/v1/search", json={"query": phrase}).json()["hits"] == []
            for path, body in (
                ("/v1/search", {"query": phrase, "document_ids": [doc_a]}),
                ("/v1/questions", {"question": phrase, "document_ids": [doc_a]}),
            ):
                assert b.post(path, json=body).status_code == 404, path
            doc_b = _upload(b, contract_b)
            assert server.wait_final(b, [doc_b])[doc_b]["status"] == "ready"
            found = b.post("/v1/search", json={"query": phrase, "limit": 20}).json()["hits"]
            assert {h["document_id"] for h in found} <= {doc_b}
            assert all(phrase not in h["text"] for h in found)
            answer = b.post("/v1/questions", json={"question": f"What does it say: {phrase}?"})
            assert answer.status_code == 200, answer.text
            assert {c["document_id"] for c in answer.json()["citations"]} <= {doc_b}
            assert [d["id"] for d in b.get("/v1/documents").json()["documents"]] == [doc_b]

            # No key, a wrong key: 401 on every operation but the open ones.
            with server.client("ds_" + "0" * 43) as wrong:
                for method, template in operations:
                    if template in OPEN:
                        continue
                    path = (
                        template.replace("{document_id}", doc_a)
                        .replace("{job_id}", job_id or "x")
                        .replace("{date}", str(today))
                    )
                    for client in (anonymous, wrong):
                        r = client.request(method, path)
                        assert r.status_code == 401, (method, path, r.status_code, r.text)
                        assert r.json()["error_code"] == "unauthenticated"
                for path in OPEN:
                    assert anonymous.get(path).status_code == 200, path

            # A revoked key: 401 once the server's key cache (0.5 s here) has expired.
            _keys(server, "revoke", key_b_id)
            revoked = _wait_unauthenticated(b)
            assert revoked.status_code == 401, revoked.text
            assert "revoked" in revoked.json()["detail"]
            assert a.get("/v1/documents").status_code == 200
    finally:
        stop_server(server)
