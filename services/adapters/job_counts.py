"""Analysis jobs counted per status (the `docsight_jobs` gauge, GET /v1/status)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from services.adapters.schema import jobs


def count_jobs_by_status(engine: Engine, tenant: str | None = None) -> dict[str, int]:
    """Analysis jobs per status, of one tenant or every tenant."""
    statement = select(jobs.c.status, func.count()).group_by(jobs.c.status)
    if tenant is not None:
        statement = statement.where(jobs.c.tenant == tenant)
    with engine.connect() as conn:
        rows = conn.execute(statement).all()
    return {str(status): int(n) for status, n in rows}


class JobCounts:
    """Called, the jobs per status of every tenant."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __call__(self) -> dict[str, int]:
        return count_jobs_by_status(self.engine)
