"""Comparison tables in the metadata store's database (the `comparisons` table).

A comparison's row is the truth about it, like an analysis job's (`services.adapters.jobs`):
the Celery message only says "run comparison X", so a lost message is re-sent from the rows
(`unfinished`), and a comparison run twice is harmless (a finished one is skipped). The
table's JSON is kept in `result` once done; deleting a document does not touch it (the
stored table is a snapshot of the documents as they were compared).
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from pipelines.comparison_models import ComparisonRecord
from pipelines.errors import NotFound
from pipelines.models import ACTIVE_JOB_STATUSES as ACTIVE
from pipelines.models import JobStatus
from services.adapters import job_rows
from services.adapters.schema import comparisons
from services.adapters.store_engine import transaction

_WHAT = "comparison store"


class SqlComparisonStore:
    """Rows of `comparisons` on `engine` (migrated by `services.adapters.schema.prepare`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, record: ComparisonRecord) -> ComparisonRecord:
        with transaction(self.engine, _WHAT) as conn:
            conn.execute(comparisons.insert().values(**_row(record)))
        return record

    def get(self, tenant: str, comparison_id: str) -> ComparisonRecord:
        """The tenant's comparison; `NotFound` for an unknown id or another tenant's."""
        record = self.find(comparison_id)
        if record is None or record.tenant != tenant:
            raise NotFound(f"comparison {comparison_id} not found")
        return record

    def find(self, comparison_id: str) -> ComparisonRecord | None:
        with transaction(self.engine, _WHAT) as conn:
            row = conn.execute(select(comparisons).where(comparisons.c.id == comparison_id)).first()
        return None if row is None else _record(row._mapping)

    def find_active(
        self, tenant: str, document_ids: Sequence[str], columns: Sequence[str], use_model: bool
    ) -> ComparisonRecord | None:
        """A queued, running or waiting comparison of the same documents and columns."""
        with transaction(self.engine, _WHAT) as conn:
            rows = conn.execute(
                select(comparisons)
                .where(
                    comparisons.c.tenant == tenant,
                    comparisons.c.use_model == use_model,
                    comparisons.c.status.in_([s.value for s in ACTIVE]),
                )
                .order_by(comparisons.c.created_at)
            ).all()
        for row in rows:
            record = _record(row._mapping)
            if record.document_ids == list(document_ids) and record.columns == list(columns):
                return record
        return None

    def list(self, tenant: str, limit: int = 100) -> builtins.list[ComparisonRecord]:
        """The tenant's comparisons, newest first, without their tables."""
        columns = [c for c in comparisons.c if c.name != "result"]
        with transaction(self.engine, _WHAT) as conn:
            rows = conn.execute(
                select(*columns)
                .where(comparisons.c.tenant == tenant)
                .order_by(comparisons.c.created_at.desc())
                .limit(limit)
            ).all()
        return [_record(row._mapping) for row in rows]

    def unfinished(self, idle_since: datetime | None = None) -> builtins.list[ComparisonRecord]:
        """Every queued, running or waiting comparison, oldest first; with `idle_since`,
        only those whose row has not changed since then."""
        rows = job_rows.unfinished(self.engine, comparisons, _WHAT, idle_since)
        return [_record(row._mapping) for row in rows]

    def transition(
        self,
        comparison_id: str,
        from_status: Sequence[JobStatus],
        to_status: JobStatus,
        **fields: Any,
    ) -> bool:
        """Move it to `to_status` only if it is in one of `from_status`; True if moved."""
        return job_rows.transition(
            self.engine, comparisons, _WHAT, comparison_id, from_status, to_status, **fields
        )

    def progress(self, comparison_id: str, done: int, total: int, step: str) -> bool:
        """Record where a running comparison stands; False unless it is running."""
        return job_rows.progress(self.engine, comparisons, _WHAT, comparison_id, done, total, step)


def _row(record: ComparisonRecord) -> dict[str, Any]:
    return record.model_dump() | {"status": record.status.value}


def _record(row: Any) -> ComparisonRecord:
    values = dict(row)
    values["use_model"] = bool(values["use_model"])
    values.setdefault("result", None)
    for stamp in ("created_at", "updated_at"):  # SQLite gives naive datetimes back
        if values[stamp] is not None and values[stamp].tzinfo is None:
            values[stamp] = values[stamp].replace(tzinfo=UTC)
    return ComparisonRecord.model_validate(values)
