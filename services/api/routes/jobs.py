"""Summaries and risk reports of a document, computed as jobs; /v1/jobs to follow them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from pipelines.models import ACTIVE_JOB_STATUSES, Job, JobKind, JobStatus
from services.api.deps import ContainerDep, TenantDep
from services.api.errors import status_for_code
from services.api.schemas import JobList, JobOut
from services.api.waiting import poll_until
from services.app.analysis import RisksResult, SummaryResult
from services.app.jobs import result_of
from services.runtime.composition import Container

router = APIRouter(prefix="/v1", tags=["analysis"])
Refresh = Annotated[bool, Query(description="recompute even if a result is cached")]
Wait = Annotated[float, Query(ge=0, le=600, description="seconds to wait for the job")]
Unverified = Annotated[
    bool,
    Query(
        description="risk reports: also the findings whose pointer to the text could not be "
        "verified (marked `grounded: false`; hidden by default)"
    ),
]
ERRORS: dict[int | str, dict[str, Any]] = {
    202: {"model": JobOut, "description": "not finished: follow the job at `Location`"},
    404: {},
    409: {"description": "the document is not ready"},
    502: {"description": "the LLM's reply was unusable"},
    503: {"description": "no LLM configured or started (ingestion and search still work)"},
}


async def _job(container: Container, tenant: str, job_id: str, wait: float) -> Job:
    """The job, once finished or after `wait` seconds (no thread held meanwhile)."""
    return await poll_until(
        lambda: container.jobs.get(tenant, job_id),
        lambda job: job.status not in ACTIVE_JOB_STATUSES,
        wait,
    )


async def _respond(
    container: Container,
    tenant: str,
    kind: JobKind,
    document_id: str,
    refresh: bool,
    wait: float,
    include_unverified: bool = False,
) -> Any:
    outcome = await run_in_threadpool(
        container.jobs.request, tenant, kind, document_id, refresh=refresh
    )
    if isinstance(outcome, RisksResult):
        return outcome.shown(include_unverified)
    if not isinstance(outcome, Job):
        return outcome
    job = await _job(container, tenant, outcome.id, wait) if wait > 0 else outcome
    result = result_of(job)
    if result is not None:
        return result.shown(include_unverified) if isinstance(result, RisksResult) else result
    body = JobOut.of(job).model_dump(mode="json")
    if job.status is JobStatus.FAILED:
        return JSONResponse(
            status_code=status_for_code(job.error_code),
            content={"error_code": job.error_code, "detail": job.reason, "job": body},
        )
    return JSONResponse(status_code=202, content=body, headers={"Location": f"/v1/jobs/{job.id}"})


@router.post("/documents/{document_id}/summary", response_model=SummaryResult, responses=ERRORS)
async def summary(
    document_id: str,
    container: ContainerDep,
    tenant: TenantDep,
    refresh: Refresh = False,
    wait: Wait = 0,
) -> Any:
    """Structured summary (contract or annual report, in the document's language). Cached:
    200 at once. Otherwise a job computes it: 202 with the job (poll `GET /v1/jobs/{id}`),
    or 200 if it finishes within `wait` seconds."""
    return await _respond(container, tenant, "summary", document_id, refresh, wait)


@router.post("/documents/{document_id}/risks", response_model=RisksResult, responses=ERRORS)
async def risks(
    document_id: str,
    container: ContainerDep,
    tenant: TenantDep,
    refresh: Refresh = False,
    wait: Wait = 0,
    include_unverified: Unverified = False,
) -> Any:
    """Risk findings: passages retrieval found for each category, classified by the model,
    each quote the document's own text located with its page. Findings whose pointer
    could not be verified are left out (counted in `unverified_hidden`) unless
    `include_unverified`. Cached: 200 at once. Otherwise a job: 202 with the job, or 200
    if it finishes within `wait` s."""
    return await _respond(
        container, tenant, "risks", document_id, refresh, wait, include_unverified
    )


@router.get("/jobs/{job_id}", response_model=JobOut, responses={404: {}})
async def get_job(
    job_id: str,
    container: ContainerDep,
    tenant: TenantDep,
    wait: Wait = 0,
    include_unverified: Unverified = False,
) -> JobOut:
    """A job: `queued`, `running`, `waiting` (a backend such as the LLM is unreachable; it
    is retried with backoff), `done` (with `result`) or `failed` (`error_code`, `reason`).
    While it runs, `steps_done` of `steps_total` model requests and the current `step`.
    `wait` blocks up to that many seconds for it to finish."""
    job = await _job(container, tenant, job_id, wait)  # wait=0: one read
    return JobOut.of(job, include_unverified)


@router.get("/jobs", response_model=JobList)
def list_jobs(
    container: ContainerDep, tenant: TenantDep, status: JobStatus | None = None
) -> JobList:
    """The caller's latest 100 jobs, newest first."""
    return JobList(jobs=[JobOut.of(job) for job in container.jobs.list(tenant, status)])
