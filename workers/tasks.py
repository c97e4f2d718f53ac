"""Thin, idempotent tasks keyed by document or job id.

Bad documents fail inside the service (status `failed` with a reason); what is left to
raise here is an unavailable backend, which Celery retries with backoff. Analysis jobs
wait longer (the LLM server may be restarting): their retries and backoff come from
`settings.worker`, and the last attempt fails the job with its reason instead of raising.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, Task

from pipelines.errors import BackendUnavailable

PARSE_TASK = "docsight.parse_document"
INDEX_TASK = "docsight.index_document"
ANALYSIS_TASK = "docsight.run_analysis_job"
REPORT_TASK = "docsight.build_report"
DISPATCH_REPORTS_TASK = "docsight.dispatch_reports"
SWEEP_TASK = "docsight.sweep_stuck_work"

_RETRY = {
    "autoretry_for": (BackendUnavailable,),
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "max_retries": 8,
}


def register_tasks(app: Celery) -> None:
    from workers.celery_app import container_of

    worker = app.docsight_settings.worker  # type: ignore[attr-defined]

    @app.task(name=SWEEP_TASK, shared=False)  # type: ignore[misc]
    def sweep_stuck_work() -> None:
        """Sent by beat every `worker.sweep_every_s` (services/app/sweep.py)."""
        from services.app.sweep import sweep

        sweep(container_of(app))

    @app.task(name=PARSE_TASK, shared=False, **_RETRY)  # type: ignore[misc]
    def parse_document(document_id: str) -> None:
        container_of(app).documents.run_parse(document_id)

    @app.task(name=INDEX_TASK, shared=False, **_RETRY)  # type: ignore[misc]
    def index_document(document_id: str) -> None:
        container_of(app).documents.run_index(document_id)

    @app.task(  # type: ignore[misc]
        name=ANALYSIS_TASK, shared=False, autoretry_for=(BackendUnavailable,),
        retry_backoff=True, retry_backoff_max=worker.analysis_retry_max_s,
        max_retries=None,  # the budget is the job row's attempts (JobService.max_attempts)
    )
    def run_analysis_job(job_id: str) -> None:
        from workers.reports import refresh_after_job

        container_of(app).jobs.run(job_id)
        refresh_after_job(app, job_id)  # its day's report shows it at once

    @app.task(name=REPORT_TASK, shared=False, bind=True, max_retries=None)  # type: ignore[misc]
    def build_report(task: Task[Any, Any], tenant: str, day: str, resume: bool = False,
                     refresh: bool = False) -> None:
        from workers.reports import run_build_step

        run_build_step(app, task, tenant, day, resume, refresh)

    @app.task(name=DISPATCH_REPORTS_TASK, shared=False, **_RETRY)  # type: ignore[misc]
    def dispatch_reports() -> None:
        from workers.reports import service_of

        service_of(app).dispatch_daily()
