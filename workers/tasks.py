"""Thin, idempotent tasks keyed by document or job id.

Bad documents fail inside the service (status `failed` with a reason); what is left to
raise here is an unavailable backend, which Celery retries with backoff. Analysis jobs
wait longer (the LLM server may be restarting): their retries and backoff come from
`settings.worker`, and the last attempt fails the job with its reason instead of raising.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from pipelines.errors import BackendUnavailable
from services.settings import Settings
from workers.context import ContextSource
from workers.names import (
    ANALYSIS_TASK,
    COMPARISON_TASK,
    DISPATCH_REPORTS_TASK,
    INDEX_TASK,
    PARSE_TASK,
    REINDEX_TASK,
    REPORT_TASK,
    SWEEP_TASK,
)
from workers.reports import run_build_step

__all__ = [
    "ANALYSIS_TASK",
    "COMPARISON_TASK",
    "DISPATCH_REPORTS_TASK",
    "INDEX_TASK",
    "PARSE_TASK",
    "REINDEX_TASK",
    "REPORT_TASK",
    "SWEEP_TASK",
    "register_tasks",
]

_RETRY = {
    "autoretry_for": (BackendUnavailable,),
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "max_retries": 8,
}


def register_tasks(app: Celery, settings: Settings, context: ContextSource) -> None:
    """The tasks of `app`; each body calls the use cases of `context()`. Celery is untyped:
    tasks are registered by calling `app.task(...)` on the function (a decorator would
    make each task an untyped function to mypy)."""
    worker = settings.worker

    def sweep_stuck_work() -> None:
        """Sent by beat every `worker.sweep_every_s` (services/app/sweep.py)."""
        context().sweep()

    def parse_document(document_id: str) -> None:
        context().documents.run_parse(document_id)

    def index_document(document_id: str) -> None:
        context().documents.run_index(document_id)

    def reindex_tenant(tenant: str) -> None:
        """services/app/reindex.py: idempotent, resumed from the tenant's row."""
        reindex = context().reindex
        if reindex is None:
            raise RuntimeError("this worker's context has no reindex service")
        reindex.run(tenant)

    def run_analysis_job(job_id: str) -> None:
        tasks = context()
        tasks.jobs.run(job_id)
        tasks.reports.refresh_for_job(job_id)  # its day's report shows it at once

    def run_comparison(comparison_id: str) -> None:
        """services/app/comparisons.py: idempotent, the row says where it stands."""
        comparisons = context().comparisons
        if comparisons is None:
            raise RuntimeError("this worker's context has no comparison service")
        comparisons.run(comparison_id)

    def build_report(
        task: Any, tenant: str, day: str, resume: bool = False, refresh: bool = False
    ) -> None:
        run_build_step(context().reports, task, tenant, day, resume, refresh)

    def dispatch_reports() -> None:
        context().reports.dispatch_daily()

    app.task(name=SWEEP_TASK, shared=False)(sweep_stuck_work)
    app.task(name=PARSE_TASK, shared=False, **_RETRY)(parse_document)
    app.task(name=INDEX_TASK, shared=False, **_RETRY)(index_document)
    app.task(name=REINDEX_TASK, shared=False, **_RETRY)(reindex_tenant)
    app.task(
        name=ANALYSIS_TASK,
        shared=False,
        autoretry_for=(BackendUnavailable,),
        retry_backoff=True,
        retry_backoff_max=worker.analysis_retry_max_s,
        max_retries=None,  # the budget is the job row's attempts (JobService.max_attempts)
    )(run_analysis_job)
    app.task(
        name=COMPARISON_TASK,
        shared=False,
        autoretry_for=(BackendUnavailable,),
        retry_backoff=True,
        retry_backoff_max=worker.analysis_retry_max_s,
        max_retries=None,  # the budget is the row's attempts (ComparisonService.max_attempts)
    )(run_comparison)
    app.task(name=REPORT_TASK, shared=False, bind=True, max_retries=None)(build_report)
    app.task(name=DISPATCH_REPORTS_TASK, shared=False, **_RETRY)(dispatch_reports)
