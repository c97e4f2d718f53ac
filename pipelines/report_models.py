"""The daily report as stored and shown: per-document entries, failures, category counts.

Built by `pipelines.reports.build_report`; a `ReportRecord` is one stored report per
(tenant, date).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from pipelines.risk_taxonomy import Severity

KindLabel = Literal["contract", "annual_report", "unknown"]
AnalysisState = Literal["done", "pending", "failed", "unavailable"]
ReportStatus = Literal["building", "done", "failed"]
DUE_DAYS = (30, 90)
"""The daily report's "due in the next 30 / 90 days" windows."""


class SummaryLine(BaseModel):
    label: str
    text: str
    pages: list[int] = Field(default_factory=list)
    verified: bool = False
    """Backed by a quote located in the document (pages are that quote's)."""


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
    pending: list[str] = Field(default_factory=list)
    """Analyses still running (`summary`, `risks`): the report is built again when they end."""
    limited: list[str] = Field(default_factory=list)
    """Analyses not asked for by the report's limits, each with the limit that left it out."""


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


class DueItem(BaseModel):
    """A contract's key date or obligation falling due soon after the report's date."""

    document_id: str
    filename: str
    kind: str
    due_date: date
    days: int
    """Days from the report's date to `due_date`."""
    quote: str
    page: int | None
    verified: bool
    """The quote is the document's text at its place (else shown as unverified)."""
    rule: str | None = None
    party: str | None = None


class Report(BaseModel):
    tenant: str
    date: date
    timezone: str
    window_start: datetime
    window_end: datetime
    generated_at: datetime
    status: ReportStatus = "done"
    """`building`: some analyses are pending (listed); the report is refreshed as they end."""
    total_documents: int = 0
    by_kind: dict[str, int] = Field(default_factory=dict)
    by_status: dict[str, int] = Field(default_factory=dict)
    failures: list[Failure] = Field(default_factory=list)
    documents: list[DocumentEntry] = Field(default_factory=list)
    categories: list[CategoryCount] = Field(default_factory=list)
    ungrounded_total: int = 0
    incomplete: int = 0
    """Ready documents whose analysis is missing (pending past the wait, failed, no LLM)."""
    pending: int = 0
    """Ready documents with analyses still running."""
    limited: int = 0
    """Ready documents with an analysis left out by the report's limits."""
    due: list[DueItem] | None = None
    """Obligations due in the `DUE_DAYS[-1]` days after the report's date, by date (None:
    not looked up, as in reports built before obligations existed)."""


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
