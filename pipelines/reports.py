"""Findings of a day -> a report: what arrived for one tenant and what was found in it.

`build_report` is pure: it takes the documents created in the day's window (in the
configured time zone) with whatever analyses exist for them, and returns a `Report`:
counts by kind and status, failures with their reasons, for each new ready document a
short summary and its high and medium findings (grounded ones only: a quote not found in
the text is counted, never shown), and every grounded finding counted by category and
severity across documents. A report may be partial (`status` building): documents whose
analyses are still running are listed as pending, and it is built again as they finish.
`pipelines.report_limits.analyses_wanted` bounds what a report asks for (summaries up to a
page count, risks per kind, a number of documents); the rest is listed as not analysed
(limit). `without_documents` takes deleted documents out of a stored report. The report's
models are in `pipelines.report_models`.
`services/app/rendering` formats one (Markdown, HTML); this module imports no renderer.
The service (`services/app/reports.py`) gathers the inputs and stores the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pipelines.models import Document, DocumentStatus, JobKind
from pipelines.report_models import (
    AnalysisState,
    CategoryCount,
    DocumentEntry,
    DueItem,
    Failure,
    KindLabel,
    Report,
    ReportFinding,
    ReportStatus,
    SummaryLine,
)
from pipelines.risk_taxonomy import DocumentKind, Severity
from pipelines.risks import RiskReport
from pipelines.summary_models import ContractSummary, ReportSummary

SHOWN: tuple[Severity, ...] = ("high", "medium")
SEVERITIES: tuple[Severity, ...] = ("high", "medium", "low")


@dataclass(frozen=True)
class DocumentAnalysis:
    """One document of the window and what is known of it (analyses may be missing)."""

    document: Document
    kind: DocumentKind | None = None
    summary: ContractSummary | ReportSummary | None = None
    risks: RiskReport | None = None
    state: AnalysisState = "done"
    note: str | None = None
    pending: tuple[JobKind, ...] = ()
    limited: tuple[str, ...] = ()


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
    status: ReportStatus = "done",
    due: Sequence[DueItem] | None = None,
) -> Report:
    """The report of `items` (the documents created in the day's window); `building` while
    some of their analyses are pending. `due`: the tenant's obligations due soon (None:
    not looked up)."""
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
            failures.append(
                Failure(
                    document_id=doc.id,
                    filename=doc.filename,
                    error_code=doc.error_code,
                    reason=doc.reason,
                )
            )
        elif doc.status is DocumentStatus.READY:
            entries.append(_entry(item, kind))
            if item.risks is not None:
                _count(counts, item.risks)
    categories = sorted(counts.values(), key=lambda c: (-c.high, -c.medium, -c.total, c.category))
    return Report(
        tenant=tenant,
        date=day,
        timezone=timezone,
        window_start=start,
        window_end=end,
        generated_at=generated_at,
        status=status,
        total_documents=len(items),
        by_kind=dict(sorted(by_kind.items())),
        by_status=dict(sorted(by_status.items())),
        failures=failures,
        documents=entries,
        categories=categories,
        ungrounded_total=sum(e.ungrounded for e in entries),
        incomplete=sum(e.analysis != "done" for e in entries),
        pending=sum(bool(e.pending) for e in entries),
        limited=sum(bool(e.limited) for e in entries),
        due=None if due is None else sorted(due, key=_due_order),
    )


def _due_order(item: DueItem) -> tuple[date, str, str, str]:
    return (item.due_date, item.filename, item.document_id, item.kind)


def _entry(item: DocumentAnalysis, kind: KindLabel) -> DocumentEntry:
    entry = DocumentEntry(
        document_id=item.document.id,
        filename=item.document.filename,
        kind=kind,
        analysis=item.state,
        analysis_note=item.note,
        pending=list(item.pending),
        limited=list(item.limited),
    )
    if item.summary is not None:
        entry.summary = summary_lines(item.summary)
    if item.risks is not None:
        grounded = [f for f in item.risks.findings if f.grounded]
        entry.findings = [
            ReportFinding(
                category=f.category,
                severity=f.severity,
                reason=f.reason,
                quote=f.quote,
                page=f.page,
            )
            for f in sorted(grounded, key=lambda f: (SEVERITIES.index(f.severity), f.page or 0))
            if f.severity in SHOWN
        ]
        entry.low_findings = sum(f.severity == "low" for f in grounded)
        entry.ungrounded = len(item.risks.findings) - len(grounded) + item.risks.unverified_hidden
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
        for label, value in (
            ("Parties", summary.parties),
            ("Subject", summary.subject),
            ("Term", summary.term_and_renewal),
            ("Payment", summary.payment),
        ):
            if value.text.strip():
                lines.append(
                    SummaryLine(
                        label=label, text=value.text, pages=value.pages, verified=value.verified
                    )
                )
        return lines
    if summary.business.text.strip():
        lines.append(
            SummaryLine(
                label="Business",
                text=summary.business.text,
                pages=summary.business.pages,
                verified=summary.business.verified,
            )
        )
    for figure in summary.key_figures[:3]:
        lines.append(
            SummaryLine(
                label=figure.name,
                text=f"{figure.value} ({figure.period})",
                pages=[figure.page] if figure.page else [],
                verified=figure.verified,
            )
        )
    if summary.outlook.text.strip():
        lines.append(
            SummaryLine(
                label="Outlook",
                text=summary.outlook.text,
                pages=summary.outlook.pages,
                verified=summary.outlook.verified,
            )
        )
    return lines


def without_documents(report: Report, document_ids: set[str]) -> Report | None:
    """The report with these documents taken out (their entries, failures and obligations
    due, with their file names, summaries and quotes), or None when it lists none of them.
    Counts drop by what the entries show: totals, kinds, statuses, and per category the
    high and medium findings (a document's low findings are stored as one number, so the
    category's low count keeps them; it names nothing)."""
    entries = [e for e in report.documents if e.document_id in document_ids]
    failures = [f for f in report.failures if f.document_id in document_ids]
    due = [d for d in report.due or () if d.document_id not in document_ids]
    if not entries and not failures and len(due) == len(report.due or ()):
        return None
    by_kind, by_status = dict(report.by_kind), dict(report.by_status)
    removed: list[tuple[str, str]] = [(e.kind, "ready") for e in entries]
    removed += [("unknown", DocumentStatus.FAILED.value) for _ in failures]
    for kind, status in removed:
        by_kind[kind] = by_kind.get(kind, 0) - 1
        by_status[status] = by_status.get(status, 0) - 1
    counts = {c.category: c.model_copy() for c in report.categories}
    for entry in entries:
        for finding in entry.findings:
            count = counts.get(finding.category)
            if count is not None:
                setattr(count, finding.severity, max(0, getattr(count, finding.severity) - 1))
        for category in {f.category for f in entry.findings}:
            if category in counts:
                counts[category].documents = max(0, counts[category].documents - 1)
    return report.model_copy(
        update={
            "total_documents": max(0, report.total_documents - len(removed)),
            "by_kind": {k: v for k, v in by_kind.items() if v > 0},
            "by_status": {k: v for k, v in by_status.items() if v > 0},
            "failures": [f for f in report.failures if f.document_id not in document_ids],
            "documents": [e for e in report.documents if e.document_id not in document_ids],
            "categories": [c for c in counts.values() if c.total or c.documents],
            "ungrounded_total": max(
                0, report.ungrounded_total - sum(e.ungrounded for e in entries)
            ),
            "incomplete": max(0, report.incomplete - sum(e.analysis != "done" for e in entries)),
            "pending": max(0, report.pending - sum(bool(e.pending) for e in entries)),
            "limited": max(0, report.limited - sum(bool(e.limited) for e in entries)),
            "due": None if report.due is None else due,
        }
    )
