"""The state machine of a row that a worker runs, shared by analysis jobs
(`services.adapters.jobs`) and comparisons (`services.adapters.comparisons`).

Such a table has `id`, `status` (`JobStatus` values), `steps_done`, `steps_total`, `step`,
`created_at` and `updated_at`; the row is the truth about the work, so a status moves only
from the statuses a caller expects (`transition`), progress is written only while it runs,
and `unfinished` finds what a stopped process left behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.engine import Engine, Row

from pipelines.models import ACTIVE_JOB_STATUSES as ACTIVE
from pipelines.models import JobStatus
from services.adapters.store_engine import transaction


def transition(
    engine: Engine,
    table: Table,
    what: str,
    row_id: str,
    from_status: Sequence[JobStatus],
    to_status: JobStatus,
    **fields: Any,
) -> bool:
    """Move the row to `to_status` only if it is in one of `from_status`; True if moved."""
    with transaction(engine, what) as conn:
        result = conn.execute(
            update(table)
            .where(table.c.id == row_id, table.c.status.in_([s.value for s in from_status]))
            .values(status=to_status.value, updated_at=datetime.now(UTC), **fields)
        )
    return bool(result.rowcount)


def progress(
    engine: Engine, table: Table, what: str, row_id: str, done: int, total: int, step: str
) -> bool:
    """Record where a running row stands; False (nothing written) unless it is running."""
    with transaction(engine, what) as conn:
        result = conn.execute(
            update(table)
            .where(table.c.id == row_id, table.c.status == JobStatus.RUNNING.value)
            .values(
                steps_done=done,
                steps_total=total,
                step=step[:200],
                updated_at=datetime.now(UTC),
            )
        )
    return bool(result.rowcount)


def unfinished(
    engine: Engine, table: Table, what: str, idle_since: datetime | None = None
) -> list[Row[Any]]:
    """Every queued, running or waiting row, oldest first; with `idle_since`, only those
    that have not changed since then."""
    query = select(table).where(table.c.status.in_([s.value for s in ACTIVE]))
    if idle_since is not None:
        query = query.where(table.c.updated_at < idle_since)
    with transaction(engine, what) as conn:
        return list(conn.execute(query.order_by(table.c.created_at)).all())
