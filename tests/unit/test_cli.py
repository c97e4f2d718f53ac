"""The `docsight` client commands, run as a person runs them (a process, its output captured,
so not a terminal) against a stub API on loopback: id prefixes (unique, ambiguous, unknown)
resolved through the API, ingest printing each document's id, whole lines when piped, and no
bare "p." for unknown pages."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from services.cli.output import _pages

REPO = Path(__file__).resolve().parents[2]
DOC_A = "3f2a9c41-0d6e-4b1a-9f55-2c7e8a1b0d11"
DOC_B = "3f2a1111-5b7c-4e2d-8a66-9d0e1f2a3b4c"  # shares "3f2a" with DOC_A
DOC_C = "c0ffee00-1234-4abc-8def-0123456789ab"
JOB = "7b1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
LONG_SECTION = "Article 13 > Governing Law and Jurisdiction > " + "Subsection " * 12


OCR_WARNING = "2 image pages need OCR (install tesseract)"


def document(doc_id: str, filename: str, status: str = "ready") -> dict[str, Any]:
    return {
        "id": doc_id,
        "filename": filename,
        "sha256": "0" * 64,
        "size_bytes": 10,
        "status": status,
        "error_code": None,
        "reason": None,
        "progress": {"pages_total": 2, "pages_parsed": 2, "chunks_total": 3, "chunks_embedded": 3},
        "kind": "contract",
        "metadata": {},
        "created_at": "2026-11-29T10:00:00Z",
    }


DOCUMENTS = [
    document(DOC_A, "lucid-distributor.pdf"),
    document(DOC_B, "acme-lease.pdf"),
    document(DOC_C, "annual-report-2024.pdf") | {"warnings": [OCR_WARNING]},
]
SUMMARY = {
    "kind": "contract",
    "cached": True,
    "model": "m",
    "summary": {
        "parties": {
            "text": "Lucid Inc. and the Distributor",
            "pages": [1, 2, 3, 7],
            "verified": True,
            "evidence": [
                {
                    "quote": "LUCID, INC. and the Distributor",
                    "page": 1,
                    "page_end": 1,
                    "char_start": 0,
                    "char_end": 31,
                }
            ],
        },
        "payment": {"text": "$17.00 a unit", "pages": [], "verified": False, "evidence": []},
    },
}
RISKS = {
    "cached": True,
    "model": "m",
    "report": {
        "kind": "contract",
        "failed": [],
        "findings": [
            {
                "severity": "high",
                "category": "termination",
                "page": None,
                "grounded": True,
                "reason": "either party may end it on 90 days' notice",
                "quote": "ninety (90) days",
            },
        ],
    },
}


class StubApi(ThreadingHTTPServer):
    """The few routes the client commands call; records each request's method and path."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, Any]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                api.requests.append(("GET", self.path, None))
                path = self.path.split("?")[0]
                by_id = {d["id"]: d for d in DOCUMENTS}
                if path == "/v1/documents":
                    self._reply(200, {"documents": DOCUMENTS})
                elif path.startswith("/v1/documents/") and path[14:] in by_id:
                    self._reply(200, by_id[path[14:]])
                elif path == f"/v1/jobs/{JOB}":
                    self._reply(
                        200,
                        {
                            "id": JOB,
                            "kind": "summary",
                            "document_id": DOC_A,
                            "status": "done",
                            "reason": None,
                        },
                    )
                elif path == "/v1/jobs":
                    self._reply(
                        200,
                        {
                            "jobs": [
                                {
                                    "id": JOB,
                                    "kind": "summary",
                                    "document_id": DOC_A,
                                    "status": "done",
                                }
                            ]
                        },
                    )
                elif path == "/ready":
                    self._reply(
                        200,
                        {"ready": True, "components": {"store": {"ok": True, "detail": "sqlite"}}},
                    )
                elif path == "/v1/status":
                    self._reply(
                        200, {"queues": {"ingest": 0}, "jobs": {}, "documents": {"ready": 3}}
                    )
                else:
                    self._reply(404, {"detail": "not found"})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                body = (
                    json.loads(raw)
                    if self.headers.get("content-type") == "application/json"
                    else None
                )
                api.requests.append(("POST", self.path, body))
                path = self.path.split("?")[0]
                if path == "/v1/documents":
                    self._reply(
                        202,
                        {
                            "accepted": [
                                {
                                    "document": document(DOC_C, "annual-report-2024.pdf", "queued"),
                                    "duplicate": False,
                                }
                            ],
                            "rejected": [],
                        },
                    )
                elif path == f"/v1/documents/{DOC_A}/summary":
                    self._reply(200, SUMMARY)
                elif path == f"/v1/documents/{DOC_A}/risks":
                    self._reply(200, RISKS)
                elif path == "/v1/search":
                    self._reply(
                        200,
                        {
                            "hits": [
                                {
                                    "document_id": DOC_A,
                                    "filename": "lucid-distributor.pdf",
                                    "kind": "contract",
                                    "page_start": 0,
                                    "page_end": 0,
                                    "score": 0.9,
                                    "section_path": LONG_SECTION.split(" > "),
                                    "text": "This Agreement shall be governed by the laws "
                                    "of the State of New York " * 3,
                                }
                            ]
                        },
                    )
                else:
                    self._reply(404, {"detail": "not found"})

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def api() -> Iterator[StubApi]:
    server = StubApi()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def docsight(api: StubApi, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI in its own process with stdout and stderr captured (a pipe, not a tty)."""
    return subprocess.run(
        [sys.executable, "-m", "services.cli.main", "--api-key", "k", *args, "--url", api.url],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={
            "PATH": "/usr/bin:/bin",
            "DOCSIGHT_DATA_DIR": str(tmp_path),
            "COLUMNS": "80",
            "HF_HUB_OFFLINE": "1",
        },
    )


def test_a_unique_prefix_is_resolved_through_the_api(api: StubApi, tmp_path: Path) -> None:
    done = docsight(api, tmp_path, "summarize", DOC_A[:6])
    assert done.returncode == 0, done.stdout + done.stderr
    assert ("GET", "/v1/documents", None) in api.requests
    assert any(
        m == "POST" and p.startswith(f"/v1/documents/{DOC_A}/summary") for m, p, _ in api.requests
    )
    assert "Lucid Inc. and the Distributor" in done.stdout


def test_a_prefix_in_search_document_ids_is_resolved(api: StubApi, tmp_path: Path) -> None:
    done = docsight(api, tmp_path, "search", "governing law", "--document", "C0FFEE")
    assert done.returncode == 0, done.stdout + done.stderr
    sent = [b for m, p, b in api.requests if p == "/v1/search"]
    assert sent[0]["document_ids"] == [DOC_C]


def test_an_ambiguous_prefix_lists_the_candidates(api: StubApi, tmp_path: Path) -> None:
    done = docsight(api, tmp_path, "risks", "3f2a")
    assert done.returncode == 2
    assert "'3f2a' is the start of 2 document ids" in done.stdout
    assert f"{DOC_A}  lucid-distributor.pdf  ready" in done.stdout
    assert f"{DOC_B}  acme-lease.pdf  ready" in done.stdout
    assert not any("/risks" in p for _, p, _ in api.requests)


def test_an_unknown_prefix_is_a_clear_error(api: StubApi, tmp_path: Path) -> None:
    done = docsight(api, tmp_path, "summarize", "dead")
    assert done.returncode == 2
    assert "no document id starts with 'dead'" in done.stdout
    assert not any("/summary" in p for _, p, _ in api.requests)


def test_a_full_id_is_sent_as_it_is_without_a_lookup(api: StubApi, tmp_path: Path) -> None:
    done = docsight(api, tmp_path, "summarize", DOC_A)
    assert done.returncode == 0, done.stdout + done.stderr
    assert ("GET", "/v1/documents", None) not in api.requests


def test_ingest_prints_each_documents_id_name_and_status(
    api: StubApi,
    tmp_path: Path,
) -> None:
    pdf = tmp_path / "annual-report-2024.pdf"
    pdf.write_bytes(b"%PDF-1.7\n")
    done = docsight(api, tmp_path, "ingest", str(pdf))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{DOC_C}  annual-report-2024.pdf  queued" in done.stdout
    assert f"{DOC_C}  annual-report-2024.pdf  ready: warning: {OCR_WARNING}" in done.stdout


def test_piped_output_is_not_cut_at_80_columns(api: StubApi, tmp_path: Path) -> None:
    done = docsight(api, tmp_path, "search", "governing law")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert max(len(line) for line in lines) > 120
    assert any(" > ".join(LONG_SECTION.split(" > ")) in line for line in lines)  # one line
    status = docsight(api, tmp_path, "status")
    assert "annual-report-2024.pdf" in status.stdout  # the table is not squeezed to 80
    assert f"warning: {OCR_WARNING}" in status.stdout  # the parser's warning is visible


def test_unknown_pages_are_never_a_bare_p(api: StubApi, tmp_path: Path) -> None:
    summary = docsight(api, tmp_path, "summarize", DOC_A)
    risks = docsight(api, tmp_path, "risks", DOC_A)
    search = docsight(api, tmp_path, "search", "governing law")
    for done in (summary, risks, search):
        assert done.returncode == 0, done.stdout + done.stderr
        assert not re.search(r"\bp\.(?!\d)", done.stdout), done.stdout
    assert 'p.1-3, 7 "LUCID, INC. and the Distributor"' in summary.stdout
    assert "$17.00 a unit (unverified: no quote found in the document)" in summary.stdout
    assert "termination page unknown" in risks.stdout
    assert "page unknown" in search.stdout


@pytest.mark.parametrize(
    ("pages", "printed"),
    [
        ((3, 3), "p.3"),
        ((3, 5), "p.3-5"),
        ((0, 0), "page unknown"),
        ((None, None), "page unknown"),
        (([],), "page unknown"),
        (([9, 3, 4, 5],), "p.3-5, 9"),
        (([0],), "page unknown"),
        ((4,), "p.4"),
    ],
)
def test_pages_format(pages: tuple[Any, ...], printed: str) -> None:
    assert _pages(*pages) == printed


def test_a_job_id_prefix_is_resolved_through_the_job_list(api: StubApi, tmp_path: Path) -> None:
    done = docsight(api, tmp_path, "job", JOB[:5])
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{JOB}  summary of {DOC_A}  done" in done.stdout
    assert ("GET", "/v1/jobs", None) in api.requests
    unknown = docsight(api, tmp_path, "job", "ffff")
    assert unknown.returncode == 2
    assert "no job id starts with 'ffff'" in unknown.stdout
