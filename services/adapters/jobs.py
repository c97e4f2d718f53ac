"""Analysis jobs (summaries, risk reports) in the metadata store's database.

One table on the `SqlStore` engine (SQLite embedded, PostgreSQL in production). A job's
row is the truth about it: the Celery message only says "run job X", so a message lost
with a stopped process is re-sent from the rows on start (`unfinished`), and running a
job twice is harmless (a finished job is skipped).

The table is defined in `services.adapters.schema` and created by its migrations; a
database written before migrations gets the progress columns (`steps_done`,
`steps_total`, `step`) when it is migrated.
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from pipelines.errors import NotFound
from pipelines.models import ACTIVE_JOB_STATUSES as ACTIVE
from pipelines.models import Job, JobStatus
from services.adapters import job_rows
from services.adapters.schema import jobs as jobs  # re-exported
from services.adapters.store_engine import document_alive, transaction

_WHAT = "job store"


class SqlJobStore:
    """Rows of `analysis_jobs` on `engine` (migrated by `services.adapters.schema.prepare`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, job: Job) -> Job:
        """Insert the job; `NotFound` when its document is gone (erased with its jobs)."""
        with transaction(self.engine, _WHAT) as conn:
            if not document_alive(conn, job.document_id):
                raise NotFound(f"no document {job.document_id}")
            conn.execute(jobs.insert().values(**_row(job)))
        return job

    def get(self, tenant: str, job_id: str) -> Job:
        """The tenant's job; `NotFound` for an unknown id or another tenant's job."""
        job = self.find(job_id)
        if job is None or job.tenant != tenant:
            raise NotFound(f"job {job_id} not found")
        return job

    def find(self, job_id: str) -> Job | None:
        with transaction(self.engine, _WHAT) as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).first()
        return None if row is None else _job(row._mapping)

    def find_active(self, tenant: str, kind: str, document_id: str) -> Job | None:
        """A queued, running or waiting job of this kind on this document, if any."""
        with transaction(self.engine, _WHAT) as conn:
            row = conn.execute(
                select(jobs)
                .where(
                    jobs.c.tenant == tenant,
                    jobs.c.kind == kind,
                    jobs.c.document_id == document_id,
                    jobs.c.status.in_([s.value for s in ACTIVE]),
                )
                .order_by(jobs.c.created_at)
            ).first()
        return None if row is None else _job(row._mapping)

    def list(self, tenant: str, status: JobStatus | None = None, limit: int = 100) -> list[Job]:
        statement = select(jobs).where(jobs.c.tenant == tenant)
        if status is not None:
            statement = statement.where(jobs.c.status == status.value)
        statement = statement.order_by(jobs.c.created_at.desc()).limit(limit)
        with transaction(self.engine, _WHAT) as conn:
            return [_job(row._mapping) for row in conn.execute(statement).all()]

    def unfinished(self, idle_since: datetime | None = None) -> builtins.list[Job]:
        """Every queued, running or waiting job, oldest first (re-sent on start); with
        `idle_since`, only those whose row has not changed since then (stuck)."""
        rows = job_rows.unfinished(self.engine, jobs, _WHAT, idle_since)
        return [_job(row._mapping) for row in rows]

    def transition(
        self, job_id: str, from_status: Sequence[JobStatus], to_status: JobStatus, **fields: Any
    ) -> bool:
        """Move the job to `to_status` only if it is in one of `from_status`; True if moved."""
        return job_rows.transition(
            self.engine, jobs, _WHAT, job_id, from_status, to_status, **fields
        )

    def progress(self, job_id: str, done: int, total: int, step: str) -> bool:
        """Record where a running job stands; False (nothing written) unless it is running."""
        return job_rows.progress(self.engine, jobs, _WHAT, job_id, done, total, step)


def _row(job: Job) -> dict[str, Any]:
    return job.model_dump() | {"status": job.status.value, "refresh": int(job.refresh)}


def _job(row: Any) -> Job:
    return Job.model_validate(dict(row) | {"refresh": bool(row["refresh"])})
