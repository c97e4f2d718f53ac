"""ReportService: the daily report of a tenant's new documents, built by a worker in steps.

A build (`step`, run by the Celery task `docsight.build_report` on its own `reports`
queue, never behind analysis jobs) reads the documents created in the day's window, takes
their summaries and risk reports from the analysis cache (or a finished job), and submits
analysis jobs for what is missing and within the report's limits (`settings.limits`), at
most `max_outstanding_jobs` at a time (jobs are deduplicated per document and kind). While
jobs are outstanding the step stores the report as it stands (status `building`: what is
ready, what is pending) and returns `pending`; the task re-checks after `poll_s`, and an
analysis job that ends sends a refresh step at once (`refresh_building`). Once none is
left, or after `max_wait_s`, the report is stored `done`. The report row and the jobs are
the truth: a restarted worker resumes `building` rows (`resume_unfinished`) and finds the
jobs already done.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from pipelines.errors import BackendUnavailable, DocsightError, LlmUnavailable, NotFound
from pipelines.models import (
    ACTIVE_JOB_STATUSES,
    Document,
    DocumentStatus,
    Job,
    JobKind,
    JobStatus,
)
from pipelines.report_limits import analyses_wanted, over_document_limit
from pipelines.report_models import DUE_DAYS, AnalysisState, DueItem, ReportRecord
from pipelines.reports import DocumentAnalysis, build_report, previous_day, report_window
from pipelines.risk_taxonomy import DocumentKind
from pipelines.risks import RiskReport, detect_kind
from pipelines.summary_models import ContractSummary, ReportSummary
from services.app.analysis import AnalysisService, RisksResult, SummaryResult
from services.app.jobs import JobService, result_of
from services.app.ports import ObligationStore, ReportDocuments, ReportQueue, ReportStore
from services.settings import ReportSettings

log = logging.getLogger(__name__)
KINDS: tuple[JobKind, ...] = ("summary", "risks")


@dataclass
class Step:
    """What one build step did: `pending` analyses are still awaited (0: finished)."""

    record: ReportRecord | None
    pending: int = 0
    submitted: int = 0


@dataclass
class _Gathered:
    items: list[DocumentAnalysis]
    pending: int = 0
    submitted: int = 0


class ReportService:
    def __init__(
        self,
        *,
        store: ReportDocuments,
        reports: ReportStore,
        analysis: AnalysisService,
        jobs: JobService,
        settings: ReportSettings,
        queue: ReportQueue | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        obligations: ObligationStore | None = None,
    ) -> None:
        """`obligations`: the tenant's key dates, for the "due in the next 30 / 90 days"
        section (None: no such section)."""
        self.obligations = obligations
        self.store = store
        self.reports = reports
        self.analysis = analysis
        self.jobs = jobs
        self.settings = settings
        self.queue = queue
        self.clock = clock

    # --- API-facing -----------------------------------------------------------------

    def get(self, tenant: str, day: date) -> ReportRecord | None:
        return self.reports.get(tenant, day)

    def list_reports(self, tenant: str) -> list[ReportRecord]:
        return self.reports.list_reports(tenant)

    def request(self, tenant: str, day: date) -> ReportRecord:
        """(Re)build the report of `day`: a build starts unless one is running (a stalled
        one, not touched for three polls, is sent again)."""
        record, started = self.reports.start(tenant, day)
        stale = self.clock() - record.updated_at > timedelta(seconds=3 * self.settings.poll_s)
        if started or stale:
            self._queue().enqueue_report(tenant, day, resume=not started)
        return record

    def dispatch_daily(self) -> list[str]:
        """Enqueue yesterday's report (in the configured time zone) for every tenant."""
        day = previous_day(self.clock(), self.settings.timezone)
        tenants = self.store.tenants()
        for tenant in tenants:
            self._queue().enqueue_report(tenant, day)
        log.info("daily reports of %s enqueued for %d tenants", day, len(tenants))
        return tenants

    def refresh_building(self, tenant: str) -> int:
        """An analysis of `tenant` ended: refresh its reports being built at once."""
        days = self.reports.building_of(tenant)
        for day in days:
            self._queue().enqueue_report(tenant, day, resume=True, refresh=True)
        return len(days)

    def refresh_for_job(self, job_id: str) -> int:
        """An analysis job ended: the reports being built for its tenant are refreshed now."""
        job = self.jobs.jobs.find(job_id)
        return 0 if job is None else self.refresh_building(job.tenant)

    def resume_unfinished(self) -> int:
        """Re-send the builds a stopped process left `building`."""
        pending = self.reports.building()
        for record in pending:
            self._queue().enqueue_report(record.tenant, record.date, resume=True)
        return len(pending)

    # --- worker step ----------------------------------------------------------------

    def step(self, tenant: str, day: date, *, resume: bool = False) -> Step:
        """One pass of a build. `resume`: only continue a build that is running (a retry
        or a resumed message finds a finished report and stops); otherwise a finished
        report is rebuilt. Raises `BackendUnavailable` for the task to retry."""
        record = self.reports.get(tenant, day)
        if record is None or record.status != "building":
            if resume:
                return Step(record)
            record, _ = self.reports.start(tenant, day)
        try:
            start, end = report_window(day, self.settings.timezone)
            documents = self.store.documents_created_between(tenant, start, end)
            final = self.clock() - record.started_at >= timedelta(seconds=self.settings.max_wait_s)
            got = self._gather(tenant, documents, record.started_at, final=final)
            waiting = got.pending and not final
            report = build_report(
                tenant,
                day,
                self.settings.timezone,
                got.items,
                generated_at=self.clock(),
                status="building" if waiting else "done",
                due=self._due(tenant, day),
            )
            if waiting:
                self.reports.touch(
                    tenant,
                    day,
                    reason=f"waiting for analyses of {got.pending} document(s)",
                    report=report,
                )
                return Step(self.reports.get(tenant, day), got.pending, got.submitted)
            self.reports.finish(tenant, day, report)
        except BackendUnavailable:
            raise
        except DocsightError as exc:
            self.reports.fail(tenant, day, exc.code, str(exc))
        except Exception as exc:
            self.reports.fail(tenant, day, "internal", str(exc))
            raise
        return Step(self.reports.get(tenant, day))

    def _gather(
        self, tenant: str, documents: list[Document], started: datetime, *, final: bool
    ) -> _Gathered:
        ready = [d for d in documents if d.status is DocumentStatus.READY]
        latest = self.reports.latest_jobs(tenant, [d.id for d in ready])
        outstanding = sum(j.status in ACTIVE_JOB_STATUSES for j in latest.values())
        try:
            self.analysis.llm.require()
            no_llm = None
        except LlmUnavailable as exc:
            no_llm = str(exc)
        got = _Gathered([])
        limits = self.settings.limits
        over = over_document_limit(documents, limits)
        for doc in documents:
            if doc.status is not DocumentStatus.READY:
                got.items.append(DocumentAnalysis(doc))
                continue
            found: dict[JobKind, SummaryResult | RisksResult | None] = {
                kind: self._cached(tenant, kind, doc.id, no_llm, latest.get((doc.id, kind)))
                for kind in KINDS
            }
            doc_kind = _kind_of(found) or detect_kind(self.store.load_chunks(doc.id))
            wanted = analyses_wanted(doc_kind, doc.pages_total, limits)
            if doc.id in over:
                wanted = dict.fromkeys(
                    KINDS, f"not analysed (limit): only {limits.max_documents} documents a day"
                )
            notes: list[str] = []
            limited: list[str] = []
            pending: list[JobKind] = []
            for kind in KINDS:
                job = latest.get((doc.id, kind))
                if found[kind] is not None:
                    continue
                why_not = wanted[kind]
                if why_not is not None:
                    limited.append(f"{kind} {why_not}")
                elif job is not None and job.status in ACTIVE_JOB_STATUSES:
                    pending.append(kind)
                elif (
                    job is not None and job.status is JobStatus.FAILED and job.created_at >= started
                ):
                    notes.append(f"{kind} failed ({job.error_code}): {job.reason}")
                elif no_llm is not None:
                    notes.append(f"{kind}: {no_llm}")
                elif final:
                    pending.append(kind)
                else:  # none yet, or it failed before this build: (re)submit, bounded
                    pending.append(kind)
                    if outstanding < self.settings.max_outstanding_jobs:
                        try:
                            self.jobs.submit(tenant, kind, doc.id)
                        except NotFound:  # deleted meanwhile: the write leaves it out
                            continue
                        outstanding += 1
                        got.submitted += 1
            got.pending += bool(pending)
            got.items.append(_item(doc, doc_kind, found, notes, pending, limited, final, no_llm))
        return got

    def _due(self, tenant: str, day: date) -> list[DueItem] | None:
        """The tenant's obligations due in the `DUE_DAYS[-1]` days after `day`."""
        if self.obligations is None:
            return None
        rows = self.obligations.find(
            tenant, due_after=_plus(day, 1), due_before=_plus(day, DUE_DAYS[-1])
        )
        return [
            DueItem(
                document_id=row.document_id,
                filename=row.filename,
                kind=row.kind,
                due_date=row.due_date,
                days=(row.due_date - day).days,
                quote=row.quote,
                page=row.page,
                verified=row.verified,
                rule=row.rule,
                party=row.party,
            )
            for row in rows
            if row.due_date is not None
        ]

    def _cached(
        self, tenant: str, kind: JobKind, document_id: str, no_llm: str | None, job: Job | None
    ) -> SummaryResult | RisksResult | None:
        """The cached analysis, else a finished job's result (a cache entry may expire)."""
        hit: SummaryResult | RisksResult | None = None
        if no_llm is None:
            try:
                hit = (
                    self.analysis.cached_summary(tenant, document_id)
                    if kind == "summary"
                    else self.analysis.cached_risks(tenant, document_id)
                )
            except LlmUnavailable:
                hit = None
            except BackendUnavailable:
                raise
            except DocsightError:  # deleted or changed meanwhile
                hit = None
        return hit if hit is not None or job is None else result_of(job)

    def _queue(self) -> ReportQueue:
        if self.queue is None:
            raise RuntimeError("no task queue attached")
        return self.queue


def _plus(day: date, days: int) -> date:
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max


def _kind_of(found: dict[JobKind, SummaryResult | RisksResult | None]) -> DocumentKind | None:
    summary, risks = found["summary"], found["risks"]
    if isinstance(summary, SummaryResult):
        return summary.kind
    if isinstance(risks, RisksResult):
        return risks.report.kind
    return None


def _item(
    doc: Document,
    kind: DocumentKind,
    found: dict[JobKind, SummaryResult | RisksResult | None],
    notes: list[str],
    pending: list[JobKind],
    limited: list[str],
    final: bool,
    no_llm: str | None,
) -> DocumentAnalysis:
    summary_result, risks_result = found["summary"], found["risks"]
    summary: ContractSummary | ReportSummary | None = None
    risks: RiskReport | None = None
    if isinstance(risks_result, RisksResult):
        risks = risks_result.report
    if isinstance(summary_result, SummaryResult):
        summary = summary_result.summary
    state: AnalysisState = "done"
    note: str | None = None
    if pending:
        state = "pending"
        note = (
            "not finished within the report's wait"
            if final
            else "analysis jobs are queued or running"
        )
    elif notes:
        state = "unavailable" if no_llm is not None else "failed"
        note = "; ".join(notes)
    return DocumentAnalysis(doc, kind, summary, risks, state, note, tuple(pending), tuple(limited))
