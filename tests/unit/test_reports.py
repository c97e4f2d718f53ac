"""pipelines.reports: a day's documents and analyses -> counts, failures, findings by
category, Markdown and HTML (escaped, with the chart); a partial report (building: what is
ready, what is pending) in the three formats; the limits on what a report asks for."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from html import unescape

import pytest

from pipelines.models import Document, DocumentStatus
from pipelines.report_limits import AnalysisLimits, analyses_wanted, over_document_limit
from pipelines.report_models import CategoryCount, DocumentEntry, Failure, Report, ReportFinding
from pipelines.reports import (
    DocumentAnalysis,
    build_report,
    previous_day,
    report_window,
    without_documents,
)
from pipelines.risk_models import Finding, RiskReport
from pipelines.risk_taxonomy import Severity
from pipelines.summary_models import ContractSummary, SourcedText
from services.app.rendering.html import render_html
from services.app.rendering.markdown import render_markdown

NOW = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
DAY = date(2026, 3, 1)


def doc(
    id_: str, name: str, status: DocumentStatus = DocumentStatus.READY, **fields: object
) -> Document:
    return Document(
        id=id_, tenant="t1", filename=name, sha256=id_ * 8, size_bytes=10, status=status, **fields
    )  # type: ignore[arg-type]


def finding(
    doc_id: str,
    category: str,
    severity: str,
    *,
    grounded: bool = True,
    quote: str = "the supplier is liable without limit",
    page: int = 3,
) -> Finding:
    return Finding(
        category=category,
        severity=severity,
        reason=f"{category} found",  # type: ignore[arg-type]
        quote=quote,
        page=page,
        document_id=doc_id,
        grounded=grounded,
    )


def risks(doc_id: str, *findings: Finding, failed: list[str] | None = None) -> RiskReport:
    return RiskReport(
        document_id=doc_id,
        kind="contract",
        findings=list(findings),
        requests=1,
        failed=failed or [],
    )


def summary(parties: str) -> ContractSummary:
    empty = SourcedText(text="", pages=[])
    return ContractSummary(
        parties=SourcedText(text=parties, pages=[1], verified=True),
        subject=SourcedText(text="Supply of widgets", pages=[1, 2], verified=True),
        term_and_renewal=empty,
        payment=empty,
        obligations=empty,
        liability_and_indemnity=empty,
        termination=empty,
        governing_law=empty,
    )


def sample() -> list[DocumentAnalysis]:
    a = doc("a", "supply.pdf")
    b = doc("b", "licence <b>&co</b>.pdf")
    bad = doc(
        "c",
        "broken.pdf",
        DocumentStatus.FAILED,
        error_code="corrupt",
        reason="the PDF is damaged: xref table not found",
    )
    return [
        DocumentAnalysis(
            a,
            "contract",
            summary("Acme and Beta"),
            risks(
                "a",
                finding("a", "Uncapped Liability", "high"),
                finding("a", "Uncapped Liability", "medium", page=4),
                finding("a", "Audit Rights", "low"),
                finding("a", "Non-Compete", "high", grounded=False, quote="invented words"),
            ),
        ),
        DocumentAnalysis(
            b,
            "contract",
            summary("<script>alert(1)</script>"),
            risks(
                "b", finding("b", "Uncapped Liability", "high", quote='x < y & "z"'), failed=["ip"]
            ),
        ),
        DocumentAnalysis(bad),
    ]


def test_window_is_the_day_in_the_time_zone_and_previous_day_uses_it() -> None:
    start, end = report_window(DAY, "Asia/Shanghai")
    assert start.astimezone(UTC) == datetime(2026, 2, 28, 16, 0, tzinfo=UTC)
    assert (end - start).total_seconds() == 24 * 3600
    # 23:30 UTC on 1 March is already 2 March in Shanghai: its previous day is 1 March
    assert previous_day(datetime(2026, 3, 1, 23, 30, tzinfo=UTC), "Asia/Shanghai") == DAY
    assert previous_day(datetime(2026, 3, 1, 23, 30, tzinfo=UTC), "UTC") == date(2026, 2, 28)
    dst_start, dst_end = report_window(date(2026, 3, 8), "America/New_York")
    assert (dst_end.astimezone(UTC) - dst_start.astimezone(UTC)).total_seconds() == 23 * 3600


def test_zero_documents_give_an_empty_report() -> None:
    report = build_report("t1", DAY, "UTC", [], generated_at=NOW)
    assert (report.total_documents, report.documents, report.categories) == (0, [], [])
    assert "No documents arrived" in render_markdown(report)
    html = render_html(report)
    assert "No documents arrived" in html
    assert "<svg" not in html


def test_counts_failures_findings_and_categories() -> None:
    report = build_report("t1", DAY, "UTC", sample(), generated_at=NOW)
    assert report.total_documents == 3
    assert report.by_kind == {"contract": 2, "unknown": 1}
    assert report.by_status == {"failed": 1, "ready": 2}
    assert [(f.filename, f.error_code) for f in report.failures] == [("broken.pdf", "corrupt")]
    supply = next(e for e in report.documents if e.filename == "supply.pdf")
    assert [(f.severity, f.category, f.page) for f in supply.findings] == [
        ("high", "Uncapped Liability", 3),
        ("medium", "Uncapped Liability", 4),
    ]
    assert (supply.low_findings, supply.ungrounded) == (1, 1)
    assert [line.label for line in supply.summary] == ["Parties", "Subject"]  # empty left out
    by_category = {c.category: c for c in report.categories}
    assert "Non-Compete" not in by_category  # ungrounded: never counted as fact
    unc = by_category["Uncapped Liability"]
    assert (unc.high, unc.medium, unc.low, unc.documents) == (2, 1, 0, 2)
    assert report.categories[0].category == "Uncapped Liability"
    assert report.ungrounded_total == 1
    markdown = render_markdown(report)
    assert "invented words" not in markdown
    assert "| Uncapped Liability | 2 | 1 | 0 | 2 |" in markdown
    assert "broken\\.pdf** (corrupt): the PDF is damaged" in markdown
    assert "not analysed: ip" in markdown


def test_html_is_self_contained_escaped_and_charts_each_severity() -> None:
    report = build_report("t1", DAY, "UTC", sample(), generated_at=NOW)
    html = render_html(report)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "licence &lt;b&gt;&amp;co&lt;/b&gt;.pdf" in html
    assert "x &lt; y &amp; &quot;z&quot;" in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html)  # no external asset
    assert "invented words" not in html
    bars = re.findall(r'<rect class="bar (\w+)" data-category="([^"]+)"[^>]*width="(\d+)"', html)
    assert ("high", "Uncapped Liability") in {(s, c) for s, c, _ in bars}
    assert ("low", "Audit Rights") in {(s, c) for s, c, _ in bars}
    assert all(int(w) > 0 for _, _, w in bars)
    widths = {(s, c): int(w) for s, c, w in bars}
    assert widths[("high", "Uncapped Liability")] > widths[("medium", "Uncapped Liability")]


def test_pending_and_failed_analyses_are_marked_not_hidden() -> None:
    items = [
        DocumentAnalysis(
            doc("a", "a.pdf"), "contract", state="pending", note="analysis jobs are running"
        ),
        DocumentAnalysis(
            doc("b", "b.pdf"),
            "contract",
            state="failed",
            note="risks failed (llm_output_invalid): bad reply",
        ),
    ]
    report = build_report("t1", DAY, "UTC", items, generated_at=NOW)
    assert report.incomplete == 2
    markdown = render_markdown(report)
    assert "_Analysis pending: analysis jobs are running_" in markdown
    assert "risks failed (llm_output_invalid)" in render_html(report)


def test_limits_bound_what_a_report_asks_for() -> None:
    embedded = AnalysisLimits(summary_max_pages=20, risks_for="contracts", max_documents=2)
    assert analyses_wanted("contract", 8, embedded) == {"summary": None, "risks": None}
    long_report = analyses_wanted("annual_report", 296, embedded)
    assert long_report["summary"] == ("not analysed (limit): 296 pages, summaries only up to 20")
    assert long_report["risks"] == "not analysed (limit): risks of contracts only"
    assert analyses_wanted("annual_report", 296, AnalysisLimits()) == {
        "summary": None,
        "risks": None,
    }  # no limits: everything
    assert analyses_wanted("contract", 3, AnalysisLimits(risks_for="none"))["risks"]
    docs = [
        doc("a", "a.pdf", pages_total=30),
        doc("b", "b.pdf", pages_total=2),
        doc("c", "c.pdf", pages_total=9),
        doc("d", "d.pdf", DocumentStatus.FAILED, pages_total=1),
    ]
    assert over_document_limit(docs, embedded) == {"a"}  # the two shortest ready ones stay
    assert over_document_limit(docs, AnalysisLimits()) == set()


def partial() -> Report:
    ready = DocumentAnalysis(
        doc("a", "supply.pdf"),
        "contract",
        summary("Acme and Beta"),
        risks("a", finding("a", "Uncapped Liability", "high")),
    )
    running = DocumentAnalysis(
        doc("b", "licence.pdf"),
        "contract",
        summary("Gamma"),
        state="pending",
        note="analysis jobs are running",
        pending=("risks",),
    )
    limited = DocumentAnalysis(
        doc("c", "annual.pdf"),
        "annual_report",
        limited=("summary not analysed (limit): 296 pages, summaries only up to 20",),
    )
    return build_report(
        "t1", DAY, "UTC", [ready, running, limited], generated_at=NOW, status="building"
    )


def test_a_partial_report_lists_ready_and_pending_in_every_format() -> None:
    report = partial()
    assert (report.status, report.pending, report.limited, report.incomplete) == (
        "building",
        1,
        1,
        1,
    )
    body = report.model_dump(mode="json")  # the API's JSON
    assert body["status"] == "building"
    entries = {e["filename"]: e for e in body["documents"]}
    assert entries["licence.pdf"]["pending"] == ["risks"]
    assert entries["licence.pdf"]["summary"][0]["text"] == "Gamma"  # ready part shown
    assert entries["supply.pdf"]["pending"] == []
    assert entries["supply.pdf"]["findings"][0]["category"] == "Uncapped Liability"
    assert "not analysed (limit)" in entries["annual.pdf"]["limited"][0]
    assert entries["annual.pdf"]["analysis"] == "done"  # left out by the limit: not waited

    markdown = render_markdown(report)
    assert "Status: building. Analyses of 1 document(s) are pending (2 of 3 complete)" in markdown
    assert "## Pending\n\n- licence\\.pdf: risks pending" in markdown
    assert "- Parties: Gamma (p. 1)" in markdown
    assert "summary not analysed (limit): 296 pages" in markdown
    assert "Uncapped Liability" in markdown

    html = render_html(report)
    assert '<p class="status building">Status: building.' in html
    assert "(unverified" not in markdown + html
    assert '<ul class="pending"><li>licence.pdf: risks pending</li></ul>' in html
    assert "summary not analysed (limit): 296 pages" in html
    assert "Gamma" in html

    done = build_report("t1", DAY, "UTC", [], generated_at=NOW)
    assert "Status: done." in render_markdown(done)
    assert "## Pending" not in render_markdown(done)
    assert "Pending</h2>" not in render_html(done)


HOSTILE = [
    "evil <img src=x onerror=alert(1)> [click](http://evil.example/x) ![i](http://e.io/p.png)",
    "<http://evil.example> www.evil.example mail@evil.example **bold** `code` | cell | ~~s~~",
    "https://evil.example/?a=b&c=d javascript:alert(1) <script>alert(2)</script>",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_markdown_report_keeps_names_and_text_inert(text: str) -> None:
    """File names, reasons and quotes render as the same plain text: no tag, no link, no
    image, no emphasis, whatever the renderer (CommonMark with raw HTML on, and links found
    in bare text as GFM and linkify do)."""
    from markdown_it import MarkdownIt

    analysis = DocumentAnalysis(
        doc("h", f"{text}.pdf"),
        "contract",
        summary(text),
        risks("h", finding("h", "Uncapped Liability", "high", quote=text)),
    )
    markdown = render_markdown(build_report("t1", DAY, "UTC", [analysis], generated_at=NOW))
    html = (
        MarkdownIt("commonmark", {"html": True, "linkify": True})
        .enable(["linkify", "strikethrough", "table"])
        .render(markdown)
    )
    for tag in ("<a ", "<img", "<script", "<strong>bold", "<code>", "<s>", "<del>"):
        assert tag not in html
    plain = re.sub(r"<[^>]+>", "", html)
    assert " ".join(text.split()) in unescape(plain)  # shown as written


def test_a_deleted_document_is_taken_out_of_a_report_with_its_counts() -> None:
    def finding(severity: Severity) -> ReportFinding:
        return ReportFinding(category="Cap", severity=severity, reason="r", quote="q", page=1)

    now = datetime(2026, 3, 2, tzinfo=UTC)
    report = Report(
        tenant="t1",
        date=date(2026, 3, 1),
        timezone="UTC",
        window_start=now,
        window_end=now,
        generated_at=now,
        total_documents=3,
        by_kind={"contract": 2, "unknown": 1},
        by_status={"ready": 2, "failed": 1},
        failures=[Failure(document_id="f", filename="f.pdf", error_code="x", reason="r")],
        documents=[
            DocumentEntry(
                document_id="a",
                filename="secret.pdf",
                kind="contract",
                findings=[finding("high")],
                ungrounded=1,
                analysis="failed",
            ),
            DocumentEntry(
                document_id="b", filename="b.pdf", kind="contract", findings=[finding("medium")]
            ),
        ],
        categories=[CategoryCount(category="Cap", high=1, medium=1, documents=2)],
        ungrounded_total=1,
        incomplete=1,
    )
    assert without_documents(report, {"unknown-id"}) is None
    left = without_documents(report, {"a", "f"})
    assert left is not None
    assert "secret.pdf" not in left.model_dump_json()
    assert [e.document_id for e in left.documents] == ["b"]
    assert (left.failures, left.total_documents, left.by_kind, left.by_status) == (
        [],
        1,
        {"contract": 1},
        {"ready": 1},
    )
    assert left.categories == [CategoryCount(category="Cap", medium=1, documents=1)]
    assert (left.ungrounded_total, left.incomplete) == (0, 0)


def test_a_statement_without_located_evidence_is_marked_unverified_without_pages() -> None:
    unverified = summary("Acme and Globex").model_copy(
        update={"payment": SourcedText(text="USD 17.00 a unit", pages=[4])}
    )
    report = build_report(
        "t1",
        DAY,
        "UTC",
        [DocumentAnalysis(doc("a", "supply.pdf"), "contract", unverified, None)],
        generated_at=NOW,
    )
    markdown, html = render_markdown(report), render_html(report)
    assert "- Payment: USD 17\\.00 a unit (unverified: no quote found in the document)" in markdown
    assert "- Parties: Acme and Globex (p. 1)" in markdown
    assert "(p. 4)" not in markdown + html  # a page nobody located is never shown
    assert (
        'USD 17.00 a unit <small class="unverified">(unverified: no quote found in the '
        "document)</small>"
    ) in html
