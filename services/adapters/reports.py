"""Daily reports in the metadata store's database: one row per (tenant, date).

A row is upserted, never duplicated: building it again updates it (`start` keeps the last
finished report readable while the rebuild runs). Its status (`building`, `done`,
`failed`) and the analysis jobs are the truth about a build: a restarted worker resumes
every `building` row. `latest_jobs` reads the analysis jobs of a report's documents.
A report is written only with documents that still exist (checked in the transaction of
the write), and `redact_in` takes a deleted document out of every stored report.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from pipelines.models import Job
from pipelines.report_models import Report, ReportRecord
from pipelines.reports import without_documents
from services.adapters.schema import jobs as jobs_table
from services.adapters.schema import reports as reports  # re-exported
from services.adapters.store_engine import documents_alive, transaction

_SUMMARY = [c for c in reports.c if c.name != "report"]


def utc(value: datetime) -> datetime:
    """An aware UTC datetime (SQLite gives back naive ones)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class SqlReportStore:
    """Rows of `reports` on `engine` (migrated by `schema.prepare`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _begin(self) -> AbstractContextManager[Connection]:
        return transaction(self.engine, "report store")

    def start(self, tenant: str, day: date) -> tuple[ReportRecord, bool]:
        """Mark the report `building` (inserted if new); a build already running is left
        alone. Returns the row and whether a new build started."""
        now = datetime.now(UTC)
        insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        statement = insert(reports).values(
            tenant=tenant,
            day=day.isoformat(),
            status="building",
            started_at=now,
            updated_at=now,
        )
        statement = statement.on_conflict_do_update(
            index_elements=[reports.c.tenant, reports.c.day],
            set_={
                "status": "building",
                "started_at": now,
                "updated_at": now,
                "error_code": None,
                "reason": None,
            },
            where=reports.c.status != "building",
        )
        with self._begin() as conn:
            conn.execute(statement)
        record = self.get(tenant, day)
        assert record is not None
        return record, record.started_at == now

    def touch(
        self, tenant: str, day: date, reason: str | None = None, report: Report | None = None
    ) -> None:
        """A building report made progress (`updated_at`, what it waits for, and the
        report as it stands, readable while the rest is pending)."""
        self._set(tenant, day, ["building"], reason=reason, report=report)

    def building_of(self, tenant: str) -> list[date]:
        """The dates of the tenant's reports being built."""
        with self._begin() as conn:
            rows = conn.execute(
                select(reports.c.day).where(
                    reports.c.tenant == tenant, reports.c.status == "building"
                )
            ).all()
        return [date.fromisoformat(row.day) for row in rows]

    def finish(self, tenant: str, day: date, report: Report) -> bool:
        """Store the finished report; False if the row was not building any more."""
        return self._set(
            tenant, day, ["building"], status="done", report=report, error_code=None, reason=None
        )

    def fail(self, tenant: str, day: date, code: str, reason: str) -> bool:
        return self._set(tenant, day, ["building"], status="failed", error_code=code, reason=reason)

    def _set(
        self,
        tenant: str,
        day: date,
        from_status: Sequence[str],
        report: Report | None = None,
        **values: Any,
    ) -> bool:
        with self._begin() as conn:
            if report is not None:  # documents deleted while it was built are left out
                listed = {e.document_id for e in report.documents}
                listed |= {f.document_id for f in report.failures}
                listed |= {d.document_id for d in report.due or ()}
                gone = listed - documents_alive(conn, sorted(listed))
                report = without_documents(report, gone) or report
                values["report"] = report.model_dump_json()
            result = conn.execute(
                update(reports)
                .where(
                    reports.c.tenant == tenant,
                    reports.c.day == day.isoformat(),
                    reports.c.status.in_(from_status),
                )
                .values(updated_at=datetime.now(UTC), **values)
            )
        return bool(result.rowcount)

    def get(self, tenant: str, day: date) -> ReportRecord | None:
        with self._begin() as conn:
            row = conn.execute(
                select(reports).where(reports.c.tenant == tenant, reports.c.day == day.isoformat())
            ).first()
        return None if row is None else _record(row._mapping)

    def list_reports(self, tenant: str, limit: int = 100) -> list[ReportRecord]:
        """The tenant's latest reports, newest date first, without their content."""
        with self._begin() as conn:
            rows = conn.execute(
                select(*_SUMMARY)
                .where(reports.c.tenant == tenant)
                .order_by(reports.c.day.desc())
                .limit(limit)
            ).all()
        return [_record(row._mapping) for row in rows]

    def building(self) -> list[ReportRecord]:
        """Every report left building (resumed on start)."""
        with self._begin() as conn:
            rows = conn.execute(select(*_SUMMARY).where(reports.c.status == "building")).all()
        return [_record(row._mapping) for row in rows]

    def latest_jobs(self, tenant: str, document_ids: Sequence[str]) -> dict[tuple[str, str], Job]:
        """The newest analysis job of each (document, kind) of these documents."""
        out: dict[tuple[str, str], Job] = {}
        ids = list(document_ids)
        with self._begin() as conn:
            for i in range(0, len(ids), 500):
                rows = conn.execute(
                    select(jobs_table)
                    .where(
                        jobs_table.c.tenant == tenant,
                        jobs_table.c.document_id.in_(ids[i : i + 500]),
                    )
                    .order_by(jobs_table.c.created_at)
                ).all()
                for row in rows:
                    job = Job.model_validate(
                        dict(row._mapping)
                        | {
                            "refresh": bool(row.refresh),
                            "created_at": utc(row.created_at),
                            "updated_at": utc(row.updated_at),
                        }
                    )
                    out[(job.document_id, job.kind)] = job  # later rows replace earlier
        return out


def redact_in(conn: Connection, tenant: str, document_id: str) -> int:
    """In `conn`'s transaction, take the document out of the tenant's stored reports (its
    entry, file name, summary and quotes; a reason naming it); returns how many changed."""
    pattern = f"%{document_id}%"
    rows = conn.execute(
        select(reports).where(
            reports.c.tenant == tenant,
            reports.c.report.like(pattern) | reports.c.reason.like(pattern),
        )
    ).all()
    for row in rows:
        values: dict[str, Any] = {}
        if row.report and document_id in row.report:
            report = Report.model_validate_json(row.report)
            values["report"] = (
                without_documents(report, {document_id}) or report
            ).model_dump_json()
        if row.reason and document_id in row.reason:
            values["reason"] = row.reason.replace(document_id, "(a deleted document)")
        conn.execute(
            update(reports)
            .where(reports.c.tenant == tenant, reports.c.day == row.day)
            .values(**values)
        )
    return len(rows)


def _record(row: Any) -> ReportRecord:
    body = row.get("report")
    return ReportRecord(
        tenant=row["tenant"],
        date=date.fromisoformat(row["day"]),
        status=row["status"],
        report=Report.model_validate_json(body) if body else None,
        error_code=row["error_code"],
        reason=row["reason"],
        started_at=utc(row["started_at"]),
        updated_at=utc(row["updated_at"]),
    )
