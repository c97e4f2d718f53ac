"""A comparison of three CUAD dev contracts through a real server on loopback (embedded
worker, SQLite, qdrant-edge): started, followed, each verified cell's quote the document's
own text at its offsets on its page, the three exports readable, and `docsight compare`.
The LLM URL points where nothing listens: the deterministic table needs no model, and a
comparison that asks the model waits (retried) instead of failing or inventing values."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook

from pipelines.chunking import document_text, page_starts
from services.adapters.pdf import Pypdfium2Parser
from tests.devset import DEVSET
from tests.integration.conftest import REPO, start_server, stop_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

COLUMNS = ["Governing Law", "Agreement Date", "Expiration Date", "Renewal Term", "Non-Compete"]


def _small_contracts(count: int) -> list[Path]:
    rows = [json.loads(line) for line in (DEVSET / "cuad_annotations.jsonl").open()]
    paths = [DEVSET / "cuad" / row["pdf_path"] for row in rows]
    return sorted((p for p in paths if p.exists()), key=lambda p: p.stat().st_size)[:count]


def _until_done(client: httpx.Client, comparison_id: str, timeout_s: float = 300) -> dict:
    deadline = time.monotonic() + timeout_s
    body: dict = {}
    while time.monotonic() < deadline:
        body = client.get(f"/v1/comparisons/{comparison_id}", params={"wait": 5}).json()
        if body["status"] in ("done", "failed"):
            return body
    raise AssertionError(f"comparison not done in {timeout_s} s: {body}")


def test_comparison_of_three_contracts_with_quotes_pages_and_exports(tmp_path: Path) -> None:
    if not (DEVSET / "cuad_annotations.jsonl").exists():
        pytest.skip("dev set not present")
    pdfs = _small_contracts(3)
    server = start_server(tmp_path, DOCSIGHT_LLM__BASE_URL="http://127.0.0.1:9/v1")
    try:
        with server.client() as client:
            ids = []
            for pdf in pdfs:
                r = client.post(
                    "/v1/documents",
                    files=[("files", (pdf.name, pdf.read_bytes(), "application/pdf"))],
                )
                ids.append(r.json()["accepted"][0]["document"]["id"])
            docs = server.wait_final(client, ids)
            assert all(d["status"] == "ready" for d in docs.values())

            bad = client.post("/v1/comparisons", json={"document_ids": ids, "columns": ["Colour"]})
            assert bad.status_code == 422
            assert "Governing Law" in bad.json()["valid"]
            assert (
                client.post("/v1/comparisons", json={"document_ids": ["nope"]}).status_code == 404
            )

            started = client.post(
                "/v1/comparisons",
                json={"document_ids": ids, "columns": COLUMNS, "use_model": False},
            )
            assert started.status_code == 202, started.text
            assert started.headers["location"] == f"/v1/comparisons/{started.json()['id']}"
            body = _until_done(client, started.json()["id"])
            assert body["status"] == "done", body
            assert (body["steps_done"], body["steps_total"]) == (3, 3)
            table = body["table"]
            assert table["columns"] == COLUMNS
            assert [row["document_id"] for row in table["rows"]] == ids
            verified = _check_cells(table, dict(zip(ids, pdfs, strict=True)))
            assert verified >= 3  # governing law and dates of three contracts, at least

            comparison_id = body["id"]
            _check_exports(client, comparison_id, table)
            listed = client.get("/v1/comparisons").json()["comparisons"]
            assert listed[0]["id"] == comparison_id
            assert listed[0]["table"] is None

            cli = subprocess.run(
                [sys.executable, "-m", "services.cli", "compare", *ids, "--no-model"]
                + ["--columns", ",".join(COLUMNS), "--format", "json", "--url", server.url],
                cwd=REPO, env=server.cli_env, capture_output=True, text=True, timeout=300,
            )  # fmt: skip
            assert cli.returncode == 0, cli.stderr
            assert json.loads(cli.stdout) == table  # the same table, read from the cache
            shown = subprocess.run(
                [sys.executable, "-m", "services.cli", "compare", *ids, "--no-model"]
                + ["--columns", "Governing Law", "--url", server.url],
                cwd=REPO, env=server.cli_env, capture_output=True, text=True, timeout=300,
            )  # fmt: skip
            assert shown.returncode == 0, shown.stderr
            laws = [r["cells"]["Governing Law"] for r in table["rows"]]
            laws = [law for law in laws if law["value"]]
            assert laws  # at least one of the three names its law
            assert all(law["value"] in shown.stdout for law in laws)
            assert all(f"p.{law['page']}" in shown.stdout for law in laws)

            waits = client.post(
                "/v1/comparisons", json={"document_ids": ids[:1], "columns": ["Audit Rights"]}
            ).json()
            waiting = _until_status(client, waits["id"], "waiting")
            assert waiting["error_code"] == "llm_unavailable"
            assert waiting["table"] is None
    finally:
        stop_server(server)


def _until_status(client: httpx.Client, comparison_id: str, status: str) -> dict:
    deadline = time.monotonic() + 120
    body: dict = {}
    while time.monotonic() < deadline:
        body = client.get(f"/v1/comparisons/{comparison_id}").json()
        if body["status"] == status:
            return body
        time.sleep(0.5)
    raise AssertionError(f"comparison not {status}: {body}")


def _check_cells(table: dict, pdfs: dict[str, Path]) -> int:
    """Each verified cell's quote is the document text at its offsets (our own parse of the
    same PDF) and lies on its pages; returns how many were verified."""
    verified = 0
    for row in table["rows"]:
        parsed = Pypdfium2Parser().parse(pdfs[row["document_id"]].read_bytes())
        text, starts = document_text(parsed.pages), page_starts(parsed.pages)
        for cell in row["cells"].values():
            if cell["value"] is None:
                continue
            assert cell["verified"], cell  # no model: every value is the document's own
            assert cell["method"] == "pattern"
            assert text[cell["char_start"] : cell["char_end"]] == cell["quote"]
            page = sum(1 for s in starts if s <= cell["char_start"])
            assert cell["page"] == page
            assert cell["page_end"] >= cell["page"]
            verified += 1
    return verified


def _check_exports(client: httpx.Client, comparison_id: str, table: dict) -> None:
    url = f"/v1/comparisons/{comparison_id}/export"
    as_csv = client.get(url, params={"format": "csv"})
    assert as_csv.status_code == 200
    assert "attachment" in as_csv.headers["content-disposition"]
    lines = list(csv.reader(io.StringIO(as_csv.text)))
    assert len(lines) == 1 + len(table["rows"])
    law = lines[0].index("Governing Law")
    first = table["rows"][0]["cells"]["Governing Law"]
    assert lines[1][law] == (first["value"] or "")
    assert lines[1][law + 2] == ("" if first["page"] is None else str(first["page"]))
    as_xlsx = client.get(url, params={"format": "xlsx"})
    book = load_workbook(io.BytesIO(as_xlsx.content))
    assert book.sheetnames == ["table", "evidence"]
    header = [c.value for c in book["table"][1]]
    assert header[2:] == table["columns"]
    evidence = list(book["evidence"].iter_rows(min_row=2, values_only=True))
    assert len(evidence) == sum(
        c["value"] is not None for r in table["rows"] for c in r["cells"].values()
    )
    as_json = client.get(url, params={"format": "json"})
    assert as_json.json() == table
