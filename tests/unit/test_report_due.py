"""The daily report's "Due in the next 30 / 90 days": the tenant's obligations due after the
report's date and up to 90 days after it, grouped within 30 days and 31 to 90 days, in
Markdown and HTML; a report without any still builds and says so; a deleted document's
obligations leave the stored report with it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from pipelines.models import Document
from pipelines.report_models import DueItem
from pipelines.reports import build_report, without_documents
from services.adapters.obligations import SqlObligationStore
from services.app.analysis import AnalysisService
from services.app.documents import DocumentService
from services.app.ports import Obligation
from services.app.rendering.html import render_html
from services.app.rendering.markdown import render_markdown
from tests.unit.test_report_service import (  # noqa: F401 - fixtures
    Recorder,
    llm,
    sent,
    service,
)

TODAY = datetime.now(UTC).date()
NOW = datetime.now(UTC)
SECRET = "Licensee shall give notice to Quorvath no later than ninety days before"


def _add(docs: DocumentService, doc_id: str, tenant: str, filename: str) -> None:
    docs.store.add_document(  # type: ignore[attr-defined]
        Document(id=doc_id, tenant=tenant, filename=filename, sha256=doc_id * 64, size_bytes=1)
    )


def _row(doc_id: str, n: int, due: date | None, tenant: str = "t1") -> Obligation:
    return Obligation(
        id=f"0000000{n}-0000-0000-0000-00000000000{doc_id}",
        tenant=tenant,
        document_id=doc_id,
        kind="notice_deadline" if n % 2 else "payment_due",
        party="Licensee",
        due_date=due,
        rule=f"rule {n}",
        quote=f"{SECRET} ({n})",
        page=n,
        page_end=n,
        char_start=n,
        char_end=n + len(SECRET),
        verified=n != 4,
        method="pattern",
        created_at=NOW,
    )


def test_due_obligations_are_listed_by_window_and_leave_with_their_document(
    docs: DocumentService,
    analysis: AnalysisService,
    sent: Recorder,  # noqa: F811
) -> None:
    rows = SqlObligationStore(docs.store.engine)  # type: ignore[attr-defined]
    _add(docs, "a", "t1", "deal.pdf")
    _add(docs, "b", "t2", "other.pdf")
    days = [0, 1, 30, 31, 90, 91]
    rows.replace(
        "t1",
        "a",
        [_row("a", n, TODAY + timedelta(days=d)) for n, d in enumerate(days)]
        + [_row("a", 7, None)],
    )
    rows.replace("t2", "b", [_row("b", 1, TODAY + timedelta(days=5), tenant="t2")])
    reports = service(analysis, sent)
    reports.obligations = rows
    step = reports.step("t1", TODAY)
    assert step.record is not None
    report = step.record.report
    assert report is not None
    assert report.due is not None
    assert [(d.days, d.document_id, d.filename) for d in report.due] == [
        (1, "a", "deal.pdf"),
        (30, "a", "deal.pdf"),
        (31, "a", "deal.pdf"),
        (90, "a", "deal.pdf"),
    ]
    markdown = render_markdown(report)
    section = markdown[markdown.index("## Due in the next 30 / 90 days") :]
    within, later = section.split("### In 31 to 90 days")
    assert "### Within 30 days" in within
    assert (TODAY + timedelta(days=1)).isoformat() in within
    assert (TODAY + timedelta(days=30)).isoformat() in within
    assert (TODAY + timedelta(days=31)).isoformat() not in within
    assert (TODAY + timedelta(days=90)).isoformat() in later
    assert "(p. 1)" in within
    assert "deal\\.pdf" in within  # escaped Markdown
    assert f"{SECRET} (1)" in within
    assert "unverified" in later  # row 4 (90 days) is unverified
    assert (TODAY + timedelta(days=91)).isoformat() not in markdown
    html = render_html(report)
    assert "Due in the next 30 / 90 days</h2>" in html
    assert html.count('<p class="due"') == 4
    docs.delete("t1", "a")
    stored = reports.get("t1", TODAY)
    assert stored is not None
    assert stored.report is not None
    assert stored.report.due == []
    assert SECRET not in stored.report.model_dump_json()


def test_a_report_without_obligations_still_builds(
    analysis: AnalysisService,
    sent: Recorder,  # noqa: F811
    docs: DocumentService,
) -> None:
    reports = service(analysis, sent)
    assert reports.step("t1", TODAY).record.report.due is None  # type: ignore[union-attr]
    reports.obligations = SqlObligationStore(docs.store.engine)  # type: ignore[attr-defined]
    report = reports.step("t1", TODAY).record.report  # type: ignore[union-attr]
    assert report is not None
    assert report.due == []
    assert "Nothing falls due in the next 90 days." in render_markdown(report)
    assert "Nothing falls due in the next 90 days." in render_html(report)
    assert "No documents arrived in this window." in render_markdown(report)


def test_a_report_built_before_obligations_shows_no_section() -> None:
    report = build_report("t1", TODAY, "UTC", [], generated_at=NOW)
    assert report.due is None
    assert "Due in the next" not in render_markdown(report)
    assert "Due in the next" not in render_html(report)


def test_without_documents_takes_out_their_due_items() -> None:
    item = DueItem(
        document_id="a",
        filename="deal.pdf",
        kind="renewal",
        due_date=TODAY + timedelta(days=3),
        days=3,
        quote="renews",
        page=1,
        verified=True,
    )
    report = build_report("t1", TODAY, "UTC", [], generated_at=NOW, due=[item])
    assert without_documents(report, {"b"}) is None  # names none of them
    taken = without_documents(report, {"a"})
    assert taken is not None
    assert taken.due == []
