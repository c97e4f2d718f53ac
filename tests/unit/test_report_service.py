"""ReportService on SQLite with a scripted model: a build reuses cached analyses, fans out
bounded jobs for the missing ones, waits (pending) instead of blocking, resumes after a
restart without recomputing, upserts one row per date, and copes with an empty day; while
analyses are pending the report is stored as it stands (building); the limits bound the
jobs a report asks for; an ended analysis refreshes the running builds of its tenant."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from pipelines.models import ChatMessage
from pipelines.report_models import ReportRecord
from pipelines.summary_models import ContractSummary
from services.adapters.jobs import SqlJobStore
from services.adapters.llm_fake import FakeChatModel
from services.adapters.reports import SqlReportStore
from services.app.analysis import AnalysisService
from services.app.documents import DocumentService
from services.app.jobs import JobService
from services.app.reports import ReportService
from services.settings import ReportSettings
from tests.unit.analysis_support import ready
from tests.unit.test_documents_service import InlineQueue

TODAY = datetime.now(UTC).date()
QUOTE = "The Supplier shall be liable without limit"


def responder(messages: list[ChatMessage]) -> str:
    """Risks: one grounded and one invented finding; summaries: minimal valid JSON."""
    if "Task: each passage above was retrieved" in messages[-1].content:
        return json.dumps(
            {
                "findings": [
                    {
                        "passage": 1,
                        "category": "Uncapped Liability",
                        "severity": "high",
                        "reason": "no cap",
                        "quote": QUOTE,
                    },
                    {
                        "passage": 1,
                        "category": "Non-Compete",
                        "severity": "medium",
                        "reason": "made up",
                        "quote": "words that appear nowhere",
                    },
                ]
            }
        )
    value = {"text": "Acme and Beta", "pages": [1]}
    return json.dumps({name: value for name in ContractSummary.model_fields})


class Recorder:
    def __init__(self) -> None:
        self.jobs: list[str] = []
        self.reports: list[tuple[str, date, bool]] = []
        self.refreshed: list[tuple[str, date]] = []

    def enqueue_analysis(self, job_id: str) -> None:
        self.jobs.append(job_id)

    def enqueue_report(
        self, tenant: str, day: date, *, resume: bool = False, refresh: bool = False
    ) -> None:
        if refresh:
            self.refreshed.append((tenant, day))
        else:
            self.reports.append((tenant, day, resume))


@pytest.fixture
def llm() -> FakeChatModel:
    return FakeChatModel(responder=responder, name="model-a")


@pytest.fixture
def sent() -> Recorder:
    return Recorder()


def service(analysis: AnalysisService, sent: Recorder, **settings: object) -> ReportService:
    """A fresh service over the same database (as a restarted worker would build); no
    limits on the analyses unless given (the embedded defaults leave risks out)."""
    jobs = JobService(jobs=SqlJobStore(analysis.store.engine), analysis=analysis, queue=sent)
    unlimited: dict[str, object] = {"summary_max_pages": 0, "risks_for": "all", "max_documents": 0}
    return ReportService(
        store=analysis.store,
        reports=SqlReportStore(analysis.store.engine),
        analysis=analysis,
        jobs=jobs,
        queue=sent,
        settings=ReportSettings(**unlimited | settings),
    )  # type: ignore[arg-type]


def run_queued(reports: ReportService, sent: Recorder, limit: int | None = None) -> int:
    """Run queued analysis jobs as a worker would (at most `limit`)."""
    todo = sent.jobs[:limit] if limit is not None else list(sent.jobs)
    for job_id in todo:
        reports.jobs.run(job_id)
        sent.jobs.remove(job_id)
    return len(todo)


def upload(docs: DocumentService, queue: InlineQueue, n: int) -> list[str]:
    return [
        ready(
            docs,
            queue,
            f"Contract {i}. This Agreement is made by the parties hereto. {QUOTE}.".encode(),
        )
        for i in range(n)
    ]


def test_a_day_with_zero_documents_gives_an_empty_report(
    analysis: AnalysisService,
    sent: Recorder,
    llm: FakeChatModel,
) -> None:
    reports = service(analysis, sent)
    step = reports.step("t1", TODAY)
    assert step.pending == 0
    assert step.record is not None
    assert step.record.status == "done"
    assert step.record.report is not None
    assert step.record.report.total_documents == 0
    assert llm.calls == []


def test_build_fans_out_bounded_jobs_resumes_and_never_recomputes(
    docs: DocumentService,
    queue: InlineQueue,
    analysis: AnalysisService,
    sent: Recorder,
    llm: FakeChatModel,
) -> None:
    ids = upload(docs, queue, 3)
    broken = docs.upload("t1", "broken.pdf", b"%PDF-1.7\nBROKEN").document.id
    queue.drain()
    reports = service(analysis, sent, max_outstanding_jobs=2)
    first = reports.step("t1", TODAY)
    assert (first.pending, first.submitted) == (3, 2)  # 6 analyses missing, 2 at a time
    assert len(sent.jobs) == 2
    assert reports.step("t1", TODAY).submitted == 0  # still 2 outstanding: none more
    run_queued(reports, sent, limit=1)  # half done, then the worker stops

    restarted = service(analysis, sent, max_outstanding_jobs=2)
    assert restarted.resume_unfinished() == 1
    assert sent.reports == [("t1", TODAY, True)]
    for _ in range(10):
        step = restarted.step("t1", TODAY, resume=True)
        if not step.pending:
            break
        assert len(sent.jobs) <= 2
        run_queued(restarted, sent)
    assert step.record is not None
    assert step.record.status == "done"
    assert len(llm.calls) == 6  # one summary and one risk request per document, once each
    report = step.record.report
    assert report is not None
    assert report.by_status == {"failed": 1, "ready": 3}
    assert [f.document_id for f in report.failures] == [broken]
    assert sorted(e.document_id for e in report.documents) == sorted(ids)
    entry = report.documents[0]
    assert [(f.category, f.severity, f.quote) for f in entry.findings] == [
        ("Uncapped Liability", "high", QUOTE)
    ]
    assert entry.ungrounded == 1  # the invented quote: counted, not shown
    counts = {c.category: (c.high, c.documents) for c in report.categories}
    assert counts == {"Uncapped Liability": (3, 3)}

    # a rebuild of the same date: one row, updated, from the cache (no model call)
    generated = report.generated_at
    again = service(analysis, sent).step("t1", TODAY)
    assert again.record is not None
    assert again.record.report is not None
    assert again.record.report.generated_at >= generated
    assert len(llm.calls) == 6
    assert [r.date for r in reports.list_reports("t1")] == [TODAY]
    # a late retry of a finished build stops instead of building again
    assert service(analysis, sent).step("t1", TODAY, resume=True).record.status == "done"  # type: ignore[union-attr]


def test_a_failed_analysis_is_reported_and_the_build_finishes(
    docs: DocumentService,
    queue: InlineQueue,
    analysis: AnalysisService,
    sent: Recorder,
    llm: FakeChatModel,
) -> None:
    upload(docs, queue, 1)
    reports = service(analysis, sent)
    reports.step("t1", TODAY)
    llm.add_replies("not json", "still not json")  # the summary's reply and its repair
    run_queued(reports, sent)
    step = reports.step("t1", TODAY)
    assert step.record is not None
    assert step.record.status == "done"
    entry = step.record.report.documents[0]  # type: ignore[union-attr]
    assert entry.analysis == "failed"
    assert "summary failed" in (entry.analysis_note or "")
    assert entry.findings  # the risks still came through


def test_a_build_past_its_wait_finishes_with_what_exists(
    docs: DocumentService,
    queue: InlineQueue,
    analysis: AnalysisService,
    sent: Recorder,
) -> None:
    upload(docs, queue, 2)
    later = [datetime.now(UTC)]
    reports = service(analysis, sent, max_wait_s=60)
    reports.clock = lambda: later[0]
    assert reports.step("t1", TODAY).pending == 2
    later[0] += timedelta(seconds=61)
    step = reports.step("t1", TODAY, resume=True)
    assert step.record is not None
    assert step.record.status == "done"
    assert step.record.report is not None
    assert step.record.report.incomplete == 2
    assert {e.analysis for e in step.record.report.documents} == {"pending"}


def test_documents_outside_the_window_or_tenant_are_left_out(
    docs: DocumentService,
    queue: InlineQueue,
    analysis: AnalysisService,
    sent: Recorder,
) -> None:
    upload(docs, queue, 1)
    ready(docs, queue, b"Another tenant's contract.", tenant="t2")
    reports = service(analysis, sent)
    yesterday = reports.step("t1", TODAY - timedelta(days=1)).record
    assert yesterday is not None
    assert yesterday.report is not None
    assert yesterday.report.total_documents == 0
    reports.step("t1", TODAY)
    record = reports.get("t1", TODAY)
    assert isinstance(record, ReportRecord)
    assert record.status == "building"  # its analyses were submitted
    assert reports.dispatch_daily() == ["t1", "t2"]
    day = datetime.now(UTC).date() - timedelta(days=1)
    assert sent.reports[-2:] == [("t1", day, False), ("t2", day, False)]


def test_request_starts_one_build_and_upsert_is_idempotent(
    analysis: AnalysisService,
    sent: Recorder,
) -> None:
    reports = service(analysis, sent)
    first = reports.request("t1", TODAY)
    second = reports.request("t1", TODAY)  # already building: not sent again
    assert first.status == second.status == "building"
    assert sent.reports == [("t1", TODAY, False)]
    reports.step("t1", TODAY, resume=True)
    assert reports.get("t1", TODAY).status == "done"  # type: ignore[union-attr]
    reports.request("t1", TODAY)  # a rebuild keeps the finished report readable
    rebuilding = reports.get("t1", TODAY)
    assert rebuilding is not None
    assert rebuilding.status == "building"
    assert rebuilding.report is not None
    assert len(reports.list_reports("t1")) == 1


def test_a_pending_build_stores_the_report_as_it_stands(
    docs: DocumentService,
    queue: InlineQueue,
    analysis: AnalysisService,
    sent: Recorder,
) -> None:
    upload(docs, queue, 2)
    reports = service(analysis, sent)
    step = reports.step("t1", TODAY)
    assert step.pending == 2
    record = reports.get("t1", TODAY)
    assert record is not None
    assert record.status == "building"
    assert record.report is not None  # readable at once, before any analysis ended
    assert record.report.status == "building"
    assert record.report.pending == 2
    assert [e.pending for e in record.report.documents] == [["summary", "risks"]] * 2
    run_queued(reports, sent, limit=2)  # the first document's summary and risks
    partial = reports.step("t1", TODAY, resume=True).record
    assert partial is not None
    assert partial.report is not None
    assert partial.report.pending == 1
    assert sorted(len(e.pending) for e in partial.report.documents) == [0, 2]
    run_queued(reports, sent)
    final = reports.step("t1", TODAY, resume=True).record
    assert final is not None
    assert final.status == "done"
    assert final.report is not None
    assert (final.report.status, final.report.pending) == ("done", 0)


def test_limits_bound_the_jobs_and_the_rest_is_listed_not_analysed(
    docs: DocumentService,
    queue: InlineQueue,
    analysis: AnalysisService,
    sent: Recorder,
    llm: FakeChatModel,
) -> None:
    upload(docs, queue, 3)
    reports = service(analysis, sent, risks_for="none", max_documents=2)
    first = reports.step("t1", TODAY)
    assert (first.pending, first.submitted) == (2, 2)  # summaries of 2 documents, no risks
    run_queued(reports, sent)
    step = reports.step("t1", TODAY, resume=True)
    assert step.record is not None
    assert step.record.status == "done"
    assert len(llm.calls) == 2
    report = step.record.report
    assert report is not None
    assert (report.incomplete, report.limited) == (0, 3)
    limited = sorted((tuple(e.limited) for e in report.documents), key=len, reverse=True)
    assert limited[0] == (
        "summary not analysed (limit): only 2 documents a day",
        "risks not analysed (limit): only 2 documents a day",
    )
    assert (
        limited[1] == limited[2] == ("risks not analysed (limit): risks are not part of reports",)
    )
    assert all(e.analysis == "done" for e in report.documents)


def test_an_ended_analysis_refreshes_the_running_builds_of_its_tenant(
    docs: DocumentService,
    queue: InlineQueue,
    analysis: AnalysisService,
    sent: Recorder,
) -> None:
    upload(docs, queue, 1)
    reports = service(analysis, sent)
    reports.step("t1", TODAY)
    reports.step("t1", TODAY - timedelta(days=1))  # empty: done at once
    assert reports.refresh_building("t1") == 1
    assert reports.refresh_building("t2") == 0
    assert sent.refreshed == [("t1", TODAY)]
