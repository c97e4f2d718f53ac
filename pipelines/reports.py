"""Findings of a day -> a report: what arrived for one tenant and what was found in it.

`build_report` is pure: it takes the documents created in the day's window (in the
configured time zone) with whatever analyses exist for them, and returns a `Report`:
counts by kind and status, failures with their reasons, for each new ready document a
short summary and its high and medium findings (grounded ones only: a quote not found in
the text is counted, never shown), and every grounded finding counted by category and
severity across documents. `render_markdown` and `render_html` (in `report_html`) format
one. The service (`services/reports.py`) gathers the inputs and stores the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from pipelines.models import Document, DocumentStatus
from pipelines.risk_taxonomy import DocumentKind, Severity
from pipelines.risks import RiskReport
from pipelines.summaries import ContractSummary, ReportSummary

KindLabel = Literal["contract", "annual_report", "unknown"]
AnalysisState = Literal["done", "pending", "failed", "unavailable"]
SHOWN: tuple[Severity, ...] = ("high", "medium")
SEVERITIES: tuple[Severity, ...] = ("high", "medium", "low")


class SummaryLine(BaseModel):
    label: str
    text: str
    pages: list[int] = Field(default_factory=list)


class ReportFinding(BaseModel):
    category: str
    severity: Severity
    reason: str
    quote: str
    page: int | None


class DocumentEntry(BaseModel):
    """A new ready document: its summary and its grounded high and medium findings."""

    document_id: str
    filename: str
    kind: KindLabel
    summary: list[SummaryLine] = Field(default_factory=list)
    findings: list[ReportFinding] = Field(default_factory=list)
    low_findings: int = 0
    ungrounded: int = 0
    """Findings whose quote was not found in the text: counted, never shown as fact."""
    not_analysed: list[str] = Field(default_factory=list)
    """Risk category groups whose analysis failed (their findings are missing)."""
    analysis: AnalysisState = "done"
    analysis_note: str | None = None


class Failure(BaseModel):
    document_id: str
    filename: str
    error_code: str | None
    reason: str | None


class CategoryCount(BaseModel):
    category: str
    high: int = 0
    medium: int = 0
    low: int = 0
    documents: int = 0

    @property
    def total(self) -> int:
        return self.high + self.medium + self.low


class Report(BaseModel):
    tenant: str
    date: date
    timezone: str
    window_start: datetime
    window_end: datetime
    generated_at: datetime
    total_documents: int = 0
    by_kind: dict[str, int] = Field(default_factory=dict)
    by_status: dict[str, int] = Field(default_factory=dict)
    failures: list[Failure] = Field(default_factory=list)
    documents: list[DocumentEntry] = Field(default_factory=list)
    categories: list[CategoryCount] = Field(default_factory=list)
    ungrounded_total: int = 0
    incomplete: int = 0
    """Ready documents whose analysis is missing (pending past the wait, failed, no LLM)."""


ReportStatus = Literal["building", "done", "failed"]


class ReportRecord(BaseModel):
    """A stored report: one per (tenant, date), updated in place by a rebuild."""

    tenant: str
    date: date
    status: ReportStatus
    report: Report | None = None
    """The latest finished report (kept while a rebuild runs)."""
    error_code: str | None = None
    reason: str | None = None
    started_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class DocumentAnalysis:
    """One document of the window and what is known of it (analyses may be missing)."""

    document: Document
    kind: DocumentKind | None = None
    summary: ContractSummary | ReportSummary | None = None
    risks: RiskReport | None = None
    state: AnalysisState = "done"
    note: str | None = None


def report_window(day: date, timezone: str) -> tuple[datetime, datetime]:
    """[start, end) of `day` in `timezone`, as aware datetimes (23 or 25 h across DST)."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return start, end


def previous_day(now: datetime, timezone: str) -> date:
    """The day before `now`'s date in `timezone` (what a morning run reports on)."""
    return now.astimezone(ZoneInfo(timezone)).date() - timedelta(days=1)


def build_report(
    tenant: str,
    day: date,
    timezone: str,
    items: Sequence[DocumentAnalysis],
    *,
    generated_at: datetime,
) -> Report:
    """The report of `items` (the documents created in the day's window)."""
    start, end = report_window(day, timezone)
    by_kind: dict[str, int] = {}
    by_status: dict[str, int] = {}
    failures: list[Failure] = []
    entries: list[DocumentEntry] = []
    counts: dict[str, CategoryCount] = {}
    for item in sorted(items, key=lambda i: (i.document.filename, i.document.id)):
        doc = item.document
        kind: KindLabel = item.kind or "unknown"
        by_kind[kind] = by_kind.get(kind, 0) + 1
        by_status[doc.status.value] = by_status.get(doc.status.value, 0) + 1
        if doc.status is DocumentStatus.FAILED:
            failures.append(Failure(document_id=doc.id, filename=doc.filename,
                                    error_code=doc.error_code, reason=doc.reason))
        elif doc.status is DocumentStatus.READY:
            entries.append(_entry(item, kind))
            if item.risks is not None:
                _count(counts, item.risks)
    categories = sorted(counts.values(), key=lambda c: (-c.high, -c.medium, -c.total,
                                                        c.category))
    return Report(
        tenant=tenant, date=day, timezone=timezone, window_start=start, window_end=end,
        generated_at=generated_at, total_documents=len(items),
        by_kind=dict(sorted(by_kind.items())), by_status=dict(sorted(by_status.items())),
        failures=failures, documents=entries, categories=categories,
        ungrounded_total=sum(e.ungrounded for e in entries),
        incomplete=sum(e.analysis != "done" for e in entries),
    )


def _entry(item: DocumentAnalysis, kind: KindLabel) -> DocumentEntry:
    entry = DocumentEntry(document_id=item.document.id, filename=item.document.filename,
                          kind=kind, analysis=item.state, analysis_note=item.note)
    if item.summary is not None:
        entry.summary = summary_lines(item.summary)
    if item.risks is not None:
        grounded = [f for f in item.risks.findings if f.grounded]
        entry.findings = [
            ReportFinding(category=f.category, severity=f.severity, reason=f.reason,
                          quote=f.quote, page=f.page)
            for f in sorted(grounded, key=lambda f: (SEVERITIES.index(f.severity),
                                                     f.page or 0))
            if f.severity in SHOWN
        ]
        entry.low_findings = sum(f.severity == "low" for f in grounded)
        entry.ungrounded = (len(item.risks.findings) - len(grounded)
                            + item.risks.ungrounded_dropped)
        entry.not_analysed = list(item.risks.failed)
    return entry


def _count(counts: dict[str, CategoryCount], risks: RiskReport) -> None:
    seen: set[str] = set()
    for finding in risks.findings:
        if not finding.grounded:
            continue
        count = counts.setdefault(finding.category, CategoryCount(category=finding.category))
        setattr(count, finding.severity, getattr(count, finding.severity) + 1)
        if finding.category not in seen:
            seen.add(finding.category)
            count.documents += 1


def summary_lines(summary: ContractSummary | ReportSummary) -> list[SummaryLine]:
    """A few key fields of a summary (empty statements left out)."""
    lines: list[SummaryLine] = []
    if isinstance(summary, ContractSummary):
        for label, value in (("Parties", summary.parties), ("Subject", summary.subject),
                             ("Term", summary.term_and_renewal),
                             ("Payment", summary.payment)):
            if value.text.strip():
                lines.append(SummaryLine(label=label, text=value.text, pages=value.pages))
        return lines
    if summary.business.text.strip():
        lines.append(SummaryLine(label="Business", text=summary.business.text,
                                 pages=summary.business.pages))
    for figure in summary.key_figures[:3]:
        lines.append(SummaryLine(label=figure.name, text=f"{figure.value} ({figure.period})",
                                 pages=[figure.page] if figure.page else []))
    if summary.outlook.text.strip():
        lines.append(SummaryLine(label="Outlook", text=summary.outlook.text,
                                 pages=summary.outlook.pages))
    return lines


def _pages(pages: Sequence[int]) -> str:
    return f" (p. {', '.join(str(p) for p in pages)})" if pages else ""


def _md(text: str) -> str:
    """Text safe inside a Markdown table cell or list item."""
    return " ".join(text.replace("|", "\\|").split())


def render_markdown(report: Report) -> str:
    """The report as Markdown (tables for counts and categories, a section per document)."""
    out = [f"# Daily report {report.date.isoformat()} ({_md(report.tenant)})", "",
           f"Documents created {report.window_start.isoformat()} to "
           f"{report.window_end.isoformat()} ({report.timezone}); generated "
           f"{report.generated_at.isoformat(timespec='seconds')}.", ""]
    if not report.total_documents:
        return "\n".join([*out, "No documents arrived in this window.", ""])
    out += ["| | count |", "|---|---|", f"| documents | {report.total_documents} |"]
    out += [f"| kind: {k} | {v} |" for k, v in report.by_kind.items()]
    out += [f"| status: {k} | {v} |" for k, v in report.by_status.items()]
    if report.incomplete:
        out += ["", f"{report.incomplete} ready document(s) lack an analysis (see below)."]
    if report.failures:
        out += ["", "## Failures", ""]
        out += [f"- **{_md(f.filename)}** ({f.error_code or 'error'}): {_md(f.reason or '')}"
                for f in report.failures]
    if report.categories:
        out += ["", "## Risks by category", "", "| category | high | medium | low | documents |",
                "|---|---|---|---|---|"]
        out += [f"| {_md(c.category)} | {c.high} | {c.medium} | {c.low} | {c.documents} |"
                for c in report.categories]
    if report.documents:
        out += ["", "## New documents"]
    for entry in report.documents:
        out += ["", f"### {_md(entry.filename)} ({entry.kind})", ""]
        if entry.analysis != "done":
            out.append(f"_Analysis {entry.analysis}: {_md(entry.analysis_note or '')}_")
        out += [f"- {_md(line.label)}: {_md(line.text)}{_pages(line.pages)}"
                for line in entry.summary]
        for f in entry.findings:
            page = f"p. {f.page}" if f.page else "page unknown"
            out.append(f"- **{f.severity}** {_md(f.category)}: {_md(f.reason)} "
                       f"({page}): \"{_md(f.quote)}\"")
        notes = entry_notes(entry)
        if notes:
            out.append(f"_{'; '.join(notes)}._")
    return "\n".join(out) + "\n"


def entry_notes(entry: DocumentEntry) -> list[str]:
    """What a document's entry leaves out, for both renderings."""
    notes = []
    if entry.low_findings:
        notes.append(f"{entry.low_findings} low finding(s) not listed")
    if entry.ungrounded:
        notes.append(f"{entry.ungrounded} finding(s) not shown: quote not found in the text")
    if entry.not_analysed:
        notes.append(f"not analysed: {', '.join(entry.not_analysed)}")
    return notes


def render_html(report: Report) -> str:
    """One self-contained HTML page (inline CSS and SVG chart, no external assets)."""
    from pipelines.report_html import render_html as render

    return render(report)
