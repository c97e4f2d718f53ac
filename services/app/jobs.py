"""Summaries and risk reports as jobs: submitted by the API, run by a Celery worker.

A request first looks in the cache (`request`): a hit is answered at once. Otherwise a job
is queued (or the queued one for the same document and kind is reused) and the caller
polls it. A worker runs it (`run`): a backend that is down (the LLM unreachable, the
store) leaves the job `waiting` and raises, so Celery retries with backoff; after the
last attempt it fails with the reason. Bad input (document gone, reply unusable) fails it
at once. Rows are the truth: unfinished jobs are re-sent on start (`resume_unfinished`),
and a job run twice does its work once. While it runs, the pipeline's steps (model requests
done of total, the current one) are written to the row; the results of finished requests
are kept (`services.app.step_cache`), so an attempt after a failure resumes where the last
one stopped instead of starting over.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pipelines.errors import BackendUnavailable, TooManyJobs
from pipelines.models import ACTIVE_JOB_STATUSES, Job, JobKind, JobStatus
from services.app.analysis import AnalysisService, RisksResult, SummaryResult
from services.app.ports import JobQueue, JobStore, Progress
from services.app.row_runs import run_row

log = logging.getLogger(__name__)

J = JobStatus
Result = SummaryResult | RisksResult


class JobService:
    def __init__(
        self,
        *,
        jobs: JobStore,
        analysis: AnalysisService,
        queue: JobQueue | None = None,
        max_active_per_tenant: int = 0,
        max_attempts: int = 0,
    ) -> None:
        self.jobs = jobs
        self.analysis = analysis
        self.queue = queue
        self.max_active_per_tenant = max_active_per_tenant  # requests only; 0: no limit
        self.max_attempts = max_attempts  # runs of one job, counted in its row; 0: no limit

    # --- API-facing -----------------------------------------------------------------

    def request(
        self, tenant: str, kind: JobKind, document_id: str, *, refresh: bool = False
    ) -> Result | Job:
        """The cached result, or the job that computes it (queued now or already active).
        Raises `LlmUnavailable` when no LLM is configured, `NotFound`, `DocumentNotReady`."""
        if not refresh:
            hit = (
                self.analysis.cached_summary(tenant, document_id)
                if kind == "summary"
                else self.analysis.cached_risks(tenant, document_id)
            )
            if hit is not None:
                return hit
        else:  # no cache lookup to check it: an unknown or unready id must not get a job
            self.analysis.require_ready(tenant, document_id)
        return self.submit(tenant, kind, document_id, refresh=refresh, limited=True)

    def submit(
        self,
        tenant: str,
        kind: JobKind,
        document_id: str,
        *,
        refresh: bool = False,
        limited: bool = False,
    ) -> Job:
        """The active job of this kind on this document, or a new queued one. `limited`
        (API requests): `TooManyJobs` when the tenant already has `max_active_per_tenant`
        active jobs (daily reports bound their own fan-out and are not limited here)."""
        active = self.jobs.find_active(tenant, kind, document_id)
        if active is not None:
            return active
        if limited and self.max_active_per_tenant > 0:
            self._check_limit(tenant)
        now = datetime.now(UTC)
        job = self.jobs.add(
            Job(
                id=str(uuid.uuid4()),
                tenant=tenant,
                kind=kind,
                document_id=document_id,
                refresh=refresh,
                created_at=now,
                updated_at=now,
            )
        )
        self._queue().enqueue_analysis(job.id)
        return job

    def get(self, tenant: str, job_id: str) -> Job:
        return self.jobs.get(tenant, job_id)

    def _check_limit(self, tenant: str) -> None:
        """A soft bound: two requests at the same instant may both pass it."""
        limit = self.max_active_per_tenant
        active = sum(
            len(self.jobs.list(tenant, status, limit=limit)) for status in ACTIVE_JOB_STATUSES
        )
        if active >= limit:
            raise TooManyJobs(
                f"limit of {limit} active analysis jobs per tenant reached ({active} queued, "
                "running or waiting); retry when one finishes",
                retry_after_s=10,
            )

    def list(self, tenant: str, status: JobStatus | None = None) -> list[Job]:
        return self.jobs.list(tenant, status)

    def resume_unfinished(self, idle_for_s: float | None = None) -> int:
        """Re-send every job a stopped process left queued, running or waiting; with
        `idle_for_s`, only those whose row has not moved for that long (a lost message)."""
        since = None if idle_for_s is None else (datetime.now(UTC) - timedelta(seconds=idle_for_s))
        pending = self.jobs.unfinished(since)
        for job in pending:
            self._queue().enqueue_analysis(job.id)
        return len(pending)

    # --- worker step ----------------------------------------------------------------

    def run(self, job_id: str) -> None:
        """Compute the job's result. Raises `BackendUnavailable` (job left `waiting`) for
        the worker to retry, unless the job's row has used up `max_attempts` (then the job
        fails): the budget lives in the row, so restarts and re-sent messages do not renew
        it."""
        job = self.jobs.find(job_id)
        if job is None:
            log.info("job %s skipped: not active", job_id)
            return
        scope = job.id if job.refresh else ""  # a refresh recomputes each step once

        def compute() -> dict[str, Any]:
            progress = self._progress(job)
            result = (
                self.analysis.compute_summary(
                    job.tenant, job.document_id, progress=progress, steps_scope=scope
                )
                if job.kind == "summary"
                else self.analysis.compute_risks(
                    job.tenant, job.document_id, progress=progress, steps_scope=scope
                )
            )
            return {"result": result.model_dump_json(), "error_code": None, "reason": None}

        if not run_row(
            self.jobs.transition,
            job_id,
            job.attempts,
            self.max_attempts,
            compute,
            lambda exc: self._fail(job, exc),
        ):
            log.info("job %s skipped: not active", job_id)

    def _progress(self, job: Job) -> Progress:
        """Writes the pipeline's steps to the job's row (a failed write is logged: progress
        never stops the job)."""

        def record(done: int, total: int, step: str) -> None:
            try:
                self.jobs.progress(job.id, done, total, step)
            except BackendUnavailable as exc:
                log.warning("job %s: progress not recorded: %s", job.id, exc)

        return record

    def _fail(self, job: Job, exc: Exception) -> None:
        code = getattr(exc, "code", "internal")
        log.warning(
            "job %s (%s of %s) failed (%s): %s", job.id, job.kind, job.document_id, code, exc
        )
        self.jobs.transition(job.id, [J.RUNNING], J.FAILED, error_code=code, reason=str(exc))

    def _queue(self) -> JobQueue:
        if self.queue is None:
            raise RuntimeError("no task queue attached")
        return self.queue


def result_of(job: Job) -> Result | None:
    """A finished job's result, parsed."""
    if job.status is not J.DONE or job.result is None:
        return None
    model = SummaryResult if job.kind == "summary" else RisksResult
    return model.model_validate_json(job.result)
