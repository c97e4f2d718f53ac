"""JobService with a scripted model and SQLite: a summary or risk report is computed by a
job, kept while the LLM is down (waiting, retried), failed with a reason on bad input or
after the last attempt, re-sent on start, and never done twice."""

from __future__ import annotations

import pytest

from pipelines.errors import BackendUnavailable, DocumentNotReady, LlmUnavailable, NotFound
from pipelines.models import Job, JobStatus
from services.adapters.jobs import SqlJobStore
from services.adapters.llm_fake import FakeChatModel
from services.app.analysis import AnalysisService, RisksResult, SummaryResult
from services.app.documents import DocumentService
from services.app.jobs import JobService, result_of
from tests.unit.analysis_support import Handle, ready
from tests.unit.test_documents_service import InlineQueue


class JobQueue:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def enqueue_analysis(self, job_id: str) -> None:
        self.sent.append(job_id)


@pytest.fixture
def job_queue() -> JobQueue:
    return JobQueue()


@pytest.fixture
def jobs(analysis: AnalysisService, job_queue: JobQueue) -> JobService:
    return JobService(
        jobs=SqlJobStore(analysis.store.engine), analysis=analysis, queue=job_queue, max_attempts=3
    )


def _doc(docs: DocumentService, queue: InlineQueue) -> str:
    return ready(docs, queue, b"This Agreement is made by the parties hereto.")


def test_a_job_computes_the_summary_then_the_cache_answers(
    docs: DocumentService,
    queue: InlineQueue,
    jobs: JobService,
    job_queue: JobQueue,
    llm: FakeChatModel,
) -> None:
    doc = _doc(docs, queue)
    job = jobs.request("t1", "summary", doc)
    assert isinstance(job, Job)
    assert job.status is JobStatus.QUEUED
    assert job_queue.sent == [job.id]
    assert jobs.request("t1", "summary", doc).id == job.id  # type: ignore[union-attr]
    assert job_queue.sent == [job.id]  # the active job is reused, not queued again
    jobs.run(job.id)
    done = jobs.get("t1", job.id)
    assert (done.status, done.attempts) == (JobStatus.DONE, 1)
    result = result_of(done)
    assert isinstance(result, SummaryResult)
    assert result.document_id == doc
    calls = len(llm.calls)
    jobs.run(job.id)  # delivered twice: done once
    assert len(llm.calls) == calls
    cached = jobs.request("t1", "summary", doc)
    assert isinstance(cached, SummaryResult)
    assert cached.cached
    assert cached.summary == result.summary
    refreshed = jobs.request("t1", "summary", doc, refresh=True)
    assert isinstance(refreshed, Job)
    assert refreshed.id != job.id


def test_llm_down_leaves_the_job_waiting_until_it_is_back(
    docs: DocumentService,
    queue: InlineQueue,
    jobs: JobService,
    handle: Handle,
    llm: FakeChatModel,
) -> None:
    doc = _doc(docs, queue)
    job = jobs.submit("t1", "risks", doc)
    llm.unavailable = True
    with pytest.raises(BackendUnavailable):
        jobs.run(job.id)
    waiting = jobs.get("t1", job.id)
    assert waiting.status is JobStatus.WAITING
    assert waiting.error_code == "llm_unavailable"
    assert "will retry" in (waiting.reason or "")
    assert jobs.submit("t1", "risks", doc).id == job.id
    llm.unavailable = False
    jobs.run(job.id)
    done = jobs.get("t1", job.id)
    assert (done.status, done.attempts, done.error_code) == (JobStatus.DONE, 2, None)
    assert isinstance(result_of(done), RisksResult)


def test_last_attempt_and_bad_input_fail_the_job_with_a_reason(
    docs: DocumentService,
    queue: InlineQueue,
    jobs: JobService,
    llm: FakeChatModel,
) -> None:
    doc = _doc(docs, queue)
    job = jobs.submit("t1", "summary", doc)
    llm.unavailable = True
    for _ in range(2):  # attempts 1 and 2 of 3: the job waits for a retry
        with pytest.raises(BackendUnavailable):
            jobs.run(job.id)
    restarted = JobService(
        jobs=jobs.jobs, analysis=jobs.analysis, queue=jobs.queue, max_attempts=3
    )  # a new process: the budget is in the row
    restarted.run(job.id)
    failed = jobs.get("t1", job.id)
    assert failed.attempts == 3
    assert (failed.status, failed.error_code) == (JobStatus.FAILED, "llm_unavailable")
    assert result_of(failed) is None
    llm.unavailable = False
    other = jobs.submit("t1", "risks", doc)
    docs.delete("t1", doc)  # its jobs are erased with it: a queued one runs as a no-op
    jobs.run(other.id)
    with pytest.raises(NotFound):
        jobs.get("t1", other.id)
    with pytest.raises(NotFound):  # a late submit (a report build) adds no row naming it
        jobs.submit("t1", "risks", doc)
    assert jobs.list("t1") == []  # the failed one went with its document


def test_requests_are_checked_before_a_job_is_queued(
    docs: DocumentService,
    queue: InlineQueue,
    jobs: JobService,
    job_queue: JobQueue,
    handle: Handle,
) -> None:
    doc = _doc(docs, queue)
    with pytest.raises(NotFound):
        jobs.request("t2", "summary", doc)  # another tenant's document
    with pytest.raises(NotFound):
        jobs.request("t1", "summary", "no-such-document")
    pending = docs.upload("t1", "b.pdf", b"%PDF-1.4 obj endobj second").document.id
    with pytest.raises(DocumentNotReady):
        jobs.request("t1", "risks", pending)
    handle.model = None
    with pytest.raises(LlmUnavailable):
        jobs.request("t1", "summary", doc)
    assert job_queue.sent == []
    job = jobs.submit("t1", "summary", doc)
    with pytest.raises(NotFound):
        jobs.get("t2", job.id)


def test_unfinished_jobs_are_sent_again_on_start(
    docs: DocumentService,
    queue: InlineQueue,
    jobs: JobService,
    job_queue: JobQueue,
) -> None:
    doc = _doc(docs, queue)
    first = jobs.submit("t1", "summary", doc)
    second = jobs.submit("t1", "risks", doc)
    jobs.run(second.id)
    job_queue.sent.clear()
    assert jobs.resume_unfinished() == 1
    assert job_queue.sent == [first.id]
    assert [j.id for j in jobs.list("t1", JobStatus.DONE)] == [second.id]
