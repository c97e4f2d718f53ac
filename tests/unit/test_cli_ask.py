"""`docsight ask` prints the evidence under the answer (document, pages, section, excerpt)
and the values read without the model with their quotes, against a stub API on loopback;
unknown pages are never printed as a bare "p."."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
DOC = "3f2a9c41-0d6e-4b1a-9f55-2c7e8a1b0d11"
QUOTE = "This Agreement shall be governed by the laws of the State of New York."
ANSWER = {
    "answer": "The model did not find the answer, but these passages look relevant: "
    "lucid.pdf p.7 (13. Governing Law).",
    "found": False,
    "grounded": False,
    "citations": [],
    "model": "m",
    "cached": False,
    "not_found_checked": "model_could_not_answer",
    "evidence": [
        {
            "document_id": DOC,
            "filename": "lucid.pdf",
            "chunk_number": 40,
            "page_start": 7,
            "page_end": 8,
            "section_path": ["LUCID AGREEMENT", "13. Governing Law"],
            "excerpt": QUOTE,
            "char_start": 100,
            "char_end": 171,
            "score": 6.2,
            "relevance": 7.5,
        },
        {
            "document_id": DOC,
            "filename": "lucid.pdf",
            "chunk_number": 3,
            "page_start": 0,
            "page_end": 0,
            "section_path": [],
            "excerpt": "Notices shall be in writing.",
            "char_start": 5,
            "char_end": 33,
            "score": 1.0,
            "relevance": 0.5,
        },
    ],
    "extracted": [
        {
            "field": "governing_law",
            "value": "New York",
            "quote": QUOTE,
            "document_id": DOC,
            "page_start": 7,
            "page_end": 7,
            "char_start": 100,
            "char_end": 171,
        }
    ],
}


class QuestionApi(ThreadingHTTPServer):
    def __init__(self) -> None:
        self.asked: list[Any] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                api.asked.append(json.loads(body))
                data = json.dumps(ANSWER).encode()
                self.send_response(200 if self.path == "/v1/questions" else 404)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def api() -> Iterator[QuestionApi]:
    server = QuestionApi()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_ask_prints_the_evidence_and_the_extracted_values(api: QuestionApi, tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "services.cli.main",
            "--api-key",
            "k",
            "ask",
            "What is the governing law?",
            "--url",
            f"http://127.0.0.1:{api.server_address[1]}",
        ],
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
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert api.asked == [
        {"question": "What is the governing law?", "document_ids": None, "thinking": False}
    ]
    assert out.startswith("The model did not find the answer")
    assert "governing law: New York" in out
    assert QUOTE in out
    assert "lucid.pdf (3f2a9c41)  p.7-8" in out
    assert "13. Governing Law" in out
    assert "Notices shall be in writing." in out
    assert "p. " not in out
    assert not out.rstrip().endswith("p.")
