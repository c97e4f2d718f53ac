"""Portfolio search through a real server and the CLI: two dev-set contracts (one uploaded
with metadata) and a small generated annual report; group_by document, the kind and
metadata filters, an English and a Chinese query."""

from __future__ import annotations

import ctypes
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pypdfium2 as pdfium
import pytest

from tests.devset import DEVSET
from tests.integration.conftest import REPO, Server, start_server, stop_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPORT_PAGES = [
    [
        "ACME HOLDINGS ANNUAL REPORT 2024",
        "FORM 10-K",
        "For the fiscal year ended December 31,",
        "2024. Letter to shareholders.",
        "Risk Factors",
        "Our customers are concentrated:",
        "two customers made 61% of revenue.",
    ],
    [
        "Management's Discussion and Analysis",
        "Consolidated Balance Sheet",
        "Liquidity: cash of $12.4 million at year end.",
        "Going concern: none identified.",
        "Shareholders approved the dividend.",
    ],
]


def _report_pdf() -> bytes:
    """A two-page annual report, one text object a line (standard font)."""
    pdf = pdfium.PdfDocument.new()
    for lines in REPORT_PAGES:
        page = pdf.new_page(420, 300)
        for n, line in enumerate(lines):
            obj = pdfium.raw.FPDFPageObj_NewTextObj(pdf.raw, b"Helvetica", 11.0)
            utf16 = ctypes.create_string_buffer((line + "\x00").encode("utf-16-le"))
            pdfium.raw.FPDFText_SetText(obj, ctypes.cast(utf16, pdfium.raw.FPDF_WIDESTRING))
            pdfium.raw.FPDFPageObj_Transform(obj, 1, 0, 0, 1, 20, 270 - 18 * n)
            pdfium.raw.FPDFPage_InsertObject(page.raw, obj)
        page.gen_content()
    buffer = io.BytesIO()
    pdf.save(buffer)
    return buffer.getvalue()


def _contracts() -> tuple[Path, Path]:
    """The smallest dev contract with a change of control clause, and the smallest without."""
    rows = [json.loads(line) for line in (DEVSET / "cuad_annotations.jsonl").open()]
    rows.sort(key=lambda row: (DEVSET / "cuad" / row["pdf_path"]).stat().st_size)
    has = [bool(row["labels"].get("Change Of Control", {}).get("spans")) for row in rows]
    with_clause = next(row for row, h in zip(rows, has, strict=True) if h)
    without = next(
        row
        for row, h in zip(rows, has, strict=True)
        if not h and row["labels"].get("Governing Law", {}).get("spans")
    )
    return (DEVSET / "cuad" / with_clause["pdf_path"], DEVSET / "cuad" / without["pdf_path"])


@pytest.fixture(scope="module")
def portfolio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict]]:
    """A server (no LLM: search needs none) holding the three documents, all ready."""
    server = start_server(
        tmp_path_factory.mktemp("portfolio"), DOCSIGHT_LLM__BASE_URL="http://127.0.0.1:9/v1"
    )
    try:
        coc, other = _contracts()
        with server.client() as client:
            first = client.post(
                "/v1/documents",
                files=[("files", (coc.name, coc.read_bytes(), "application/pdf"))],
                data={"metadata": json.dumps({"counterparty": "Lucid", "区域": "华东"})},
            )
            assert first.status_code == 202, first.text
            rest = client.post(
                "/v1/documents",
                files=[
                    ("files", (other.name, other.read_bytes(), "application/pdf")),
                    ("files", ("acme_annual_report_2024.pdf", _report_pdf(), "application/pdf")),
                ],
            )
            assert rest.status_code == 202, rest.text
            accepted = first.json()["accepted"] + rest.json()["accepted"]
            ids = {
                name: item["document"]["id"]
                for name, item in zip(("coc", "other", "report"), accepted, strict=True)
            }
            docs = server.wait_final(client, list(ids.values()))
            assert all(d["status"] == "ready" for d in docs.values()), docs
        yield server, ids
    finally:
        stop_server(server)


def _search(client: httpx.Client, query: str, **body: object) -> list[dict]:
    response = client.post("/v1/search", json={"query": query, **body})
    assert response.status_code == 200, response.text
    return response.json()["hits"]


def _cli(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "services.cli.main", "search", *args, "--url", server.url],
        cwd=REPO,
        env=server.cli_env | {"COLUMNS": "160"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_documents_show_kind_metadata_and_upload_time(portfolio: tuple[Server, dict]) -> None:
    server, ids = portfolio
    with server.client() as client:
        listed = {d["id"]: d for d in client.get("/v1/documents").json()["documents"]}
        one = client.get(f"/v1/documents/{ids['coc']}").json()
    assert one["metadata"] == {"counterparty": "Lucid", "区域": "华东"}
    assert one["kind"] == listed[ids["other"]]["kind"] == "contract"
    assert listed[ids["report"]]["kind"] == "annual_report"
    assert listed[ids["report"]]["metadata"] == {}
    assert all(d["created_at"].endswith(("Z", "+00:00")) for d in listed.values())


def test_group_by_document_one_hit_per_document_in_english_and_chinese(
    portfolio: tuple[Server, dict],
) -> None:
    server, ids = portfolio
    with server.client() as client:
        for query in ("change of control", "控制权变更"):
            hits = _search(client, query, group_by="document", limit=10)
            found = [h["document_id"] for h in hits]
            assert sorted(found) == sorted(ids.values()), (query, hits)  # each once
            # The contracts first (the Chinese query is expanded with English clause terms).
            assert found.index(ids["coc"]) < found.index(ids["report"]), (query, hits)
            scores = [h["score"] for h in hits]
            assert scores == sorted(scores, reverse=True)
            coc = hits[found.index(ids["coc"])]
            assert coc["filename"] == _contracts()[0].name
            assert 1 <= coc["page_start"] <= coc["page_end"]
            assert 0 <= coc["char_start"] < coc["char_end"]
            assert coc["section_path"]
            assert "control" in coc["text"].lower(), coc["text"]
        english = _search(client, "change of control", group_by="document")
        assert english[0]["document_id"] == ids["coc"], english[0]
        by_chunk = _search(client, "change of control", limit=20)
        assert len({h["document_id"] for h in by_chunk}) < len(by_chunk)  # passages repeat


def test_kind_and_metadata_filters(portfolio: tuple[Server, dict]) -> None:
    server, ids = portfolio
    with server.client() as client:
        reports = _search(client, "customer concentration", kind="annual_report")
        assert {h["document_id"] for h in reports} == {ids["report"]}
        assert reports[0]["kind"] == "annual_report"
        contracts = _search(client, "governing law", kind="contract", group_by="document")
        assert sorted(h["document_id"] for h in contracts) == sorted([ids["coc"], ids["other"]])
        tagged = _search(client, "governing law", metadata={"区域": "华东"}, limit=20)
        assert {h["document_id"] for h in tagged} == {ids["coc"]}
        assert _search(client, "governing law", metadata={"区域": "华北"}) == []
        assert (
            _search(
                client,
                "governing law",
                kind="contract",
                document_ids=[ids["report"], ids["report"]],
            )
            == []
        )
        later = _search(client, "governing law", uploaded_after="2999-01-01T00:00:00Z")
        assert later == []
        assert (
            client.post(
                "/v1/search", json={"query": "x", "uploaded_after": "2025-01-01T00:00:00"}
            ).status_code
            == 422
        )
        assert (
            client.post(
                "/v1/search", json={"query": "x", "document_ids": [ids["coc"], "no-such-id"]}
            ).status_code
            == 404
        )
        bad = client.post(
            "/v1/documents",
            data={"metadata": '{"k": 1}'},
            files=[("files", ("r.pdf", _report_pdf(), "application/pdf"))],
        )
        assert bad.status_code == 422
        assert "metadata" in json.dumps(bad.json())


def test_cli_search_by_document_with_filters(portfolio: tuple[Server, dict]) -> None:
    server, ids = portfolio
    text = _cli(server, "控制权变更", "--group-by", "document").stdout
    ranks = [line.split(".")[0] for line in text.splitlines() if line[:1].isdigit()]
    assert ranks == ["1", "2", "3"], text  # one line a document
    for document_id in ids.values():
        assert text.count(f"({document_id[:8]})") == 1, text
    assert _contracts()[0].name in text
    assert " p." in text
    as_json = json.loads(
        _cli(server, "change of control", "--group-by", "document", "--json").stdout
    )
    assert as_json["group_by"] == "document"
    assert [h["document_id"] for h in as_json["hits"]][0] == ids["coc"]
    assert len({h["document_id"] for h in as_json["hits"]}) == len(as_json["hits"]) == 3
    filtered = json.loads(
        _cli(
            server,
            "governing law",
            "--kind",
            "contract",
            "--meta",
            "counterparty=Lucid",
            "--after",
            "2020-01-01",
            "--json",
        ).stdout
    )
    assert {h["document_id"] for h in filtered["hits"]} == {ids["coc"]}
    report = _cli(server, "liquidity", "--kind", "annual_report", "--limit", "1").stdout
    assert "acme_annual_report_2024.pdf" in report
