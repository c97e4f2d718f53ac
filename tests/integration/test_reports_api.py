"""Daily reports through a real server: an empty day, a day with a ready document whose
analyses cannot run (its LLM is down: the build waits through Celery retries, then
finishes marking them pending), the three formats, the CLI, one row per date; report
builds on their own queue: with every analysis thread stuck on an LLM that never answers,
an empty day is done in seconds and a day with pending analyses is served at once, as it
stands, in every format."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.app.rendering.markdown import escape_markdown
from tests.integration.conftest import REPO, start_server, stop_server
from tests.integration.test_analysis_api import DEVSET, _smallest_contract
from tests.servers import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_reports_through_the_api_and_the_cli(tmp_path: Path) -> None:
    if not (DEVSET / "cuad_annotations.jsonl").exists():
        pytest.skip("dev set not present")
    contract = _smallest_contract()
    server = start_server(
        tmp_path,
        **{
            "DOCSIGHT_EMBEDDER__KIND": "hash",
            "DOCSIGHT_LLM__BASE_URL": f"http://127.0.0.1:{free_port()}/v1",  # nothing listens
            "DOCSIGHT_LLM__MAX_RETRIES": "0",
            "DOCSIGHT_REPORTS__POLL_S": "0.5",
            "DOCSIGHT_REPORTS__MAX_WAIT_S": "4",
            "DOCSIGHT_REPORTS__RISKS_FOR": "all",  # the embedded default asks summaries only
        },
    )
    today = datetime.now(UTC).date()
    yesterday = today - timedelta(days=1)
    try:
        with server.client() as client:
            assert client.get(f"/v1/reports/{yesterday}").status_code == 404
            for edge in ("9999-12-31", "0001-01-01"):  # its window leaves the calendar
                for method in ("GET", "POST"):
                    refused = client.request(method, f"/v1/reports/{edge}")
                    assert refused.status_code == 422, refused.text
                    assert refused.json()["error_code"] == "invalid_request"
            empty = client.post(f"/v1/reports/{yesterday}", params={"wait": 30})
            assert empty.status_code == 200, empty.text
            assert empty.json()["report"]["total_documents"] == 0

            upload = client.post(
                "/v1/documents",
                files=[("files", (contract.name, contract.read_bytes(), "application/pdf"))],
            )
            doc_id = upload.json()["accepted"][0]["document"]["id"]
            server.wait_final(client, [doc_id])
            built = client.post(f"/v1/reports/{today}", params={"wait": 60})
            assert built.status_code == 200, built.text
            report = built.json()["report"]
            assert report["by_status"] == {"ready": 1}
            assert report["documents"][0]["filename"] == contract.name
            assert report["documents"][0]["analysis"] == "pending"  # the LLM never came
            jobs = client.get("/v1/jobs").json()["jobs"]
            assert sorted(j["kind"] for j in jobs) == ["risks", "summary"]

            markdown = client.get(f"/v1/reports/{today}", params={"format": "markdown"})
            assert markdown.headers["content-type"].startswith("text/markdown")
            assert escape_markdown(contract.name) in markdown.text  # inert: _ and . escaped
            html = client.get(f"/v1/reports/{today}", params={"format": "html"})
            assert html.headers["content-type"].startswith("text/html")
            assert "<!DOCTYPE html>" in html.text
            listed = client.get("/v1/reports").json()["reports"]
            assert [r["date"] for r in listed] == [str(today), str(yesterday)]

        cli = subprocess.run(
            [
                sys.executable,
                "-m",
                "services.cli.main",
                "report",
                "--date",
                str(today),
                "--format",
                "json",
                "--rebuild",
                "--url",
                server.url,
            ],
            cwd=REPO,
            env=server.cli_env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert cli.returncode == 0, cli.stdout + cli.stderr
        assert contract.name in cli.stdout
        with server.client() as client:
            assert len(client.get("/v1/reports").json()["reports"]) == 2  # rebuilt in place
    finally:
        stop_server(server)


def test_reports_never_wait_behind_analysis_jobs(tmp_path: Path) -> None:
    if not (DEVSET / "cuad_annotations.jsonl").exists():
        pytest.skip("dev set not present")
    contract = _smallest_contract()
    # An LLM that accepts connections and never answers: each analysis job holds a worker
    # thread for the whole timeout, and the others queue behind it.
    silent = socket.create_server(("127.0.0.1", 0), backlog=64)
    server = start_server(
        tmp_path,
        **{
            "DOCSIGHT_EMBEDDER__KIND": "hash",
            "DOCSIGHT_LLM__BASE_URL": f"http://127.0.0.1:{silent.getsockname()[1]}/v1",
            "DOCSIGHT_LLM__MAX_RETRIES": "0",
            "DOCSIGHT_LLM__TIMEOUT_S": "600",  # the jobs hang on the silent LLM all the test long
            "DOCSIGHT_REPORTS__POLL_S": "0.5",
            "DOCSIGHT_REPORTS__RISKS_FOR": "all",
        },
    )
    today = datetime.now(UTC).date()
    yesterday = today - timedelta(days=1)
    try:
        with server.client() as client:
            upload = client.post(
                "/v1/documents",
                files=[("files", (contract.name, contract.read_bytes(), "application/pdf"))],
            )
            doc_id = upload.json()["accepted"][0]["document"]["id"]
            server.wait_final(client, [doc_id])
            for kind in ("summary", "risks"):  # both threads of the analysis worker stuck
                assert client.post(f"/v1/documents/{doc_id}/{kind}").status_code == 202
            time.sleep(2)
            assert {j["status"] for j in client.get("/v1/jobs").json()["jobs"]} == {"running"}

            empty = client.post(f"/v1/reports/{yesterday}", params={"wait": 30})
            assert empty.status_code == 200, empty.text
            assert empty.json()["status"] == "done"
            assert empty.json()["report"]["total_documents"] == 0
            jobs = client.get("/v1/jobs").json()["jobs"]
            assert {j["status"] for j in jobs} == {"running"}  # built while they still hang

            partial = client.post(f"/v1/reports/{today}", params={"wait": 3})
            assert partial.status_code == 200, partial.text  # as it stands, not 202
            body = partial.json()
            assert body["status"] == "building"
            entry = body["report"]["documents"][0]
            assert entry["filename"] == contract.name
            assert entry["pending"] == ["summary", "risks"]
            got = client.get(f"/v1/reports/{today}")
            assert got.status_code == 200
            assert got.json()["report"]["status"] == "building"
            markdown = client.get(f"/v1/reports/{today}", params={"format": "markdown"})
            assert markdown.status_code == 200
            assert "Status: building" in markdown.text
            assert f"- {escape_markdown(contract.name)}: summary, risks pending" in markdown.text
            html = client.get(f"/v1/reports/{today}", params={"format": "html"})
            assert html.status_code == 200
            assert "Status: building" in html.text
            assert "Pending</h2>" in html.text
    finally:
        stop_server(server)
        silent.close()
