"""Stuck work is sent again (issue 11, defect 8): a document or job whose broker message
was lost no longer waits for the next restart. The message is deleted; once the row has
not moved for `stuck_after_s`, the sweep re-sends it and the work finishes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update

from pipelines.models import DocumentStatus, JobStatus
from services.adapters.jobs import SqlJobStore
from services.adapters.jobs import jobs as jobs_table
from services.adapters.store import documents as documents_table
from services.app.analysis import AnalysisService
from services.app.documents import DocumentService
from services.app.jobs import JobService
from services.app.sweep import Sweep
from services.settings import Settings
from tests.unit.analysis_support import ready
from tests.unit.test_documents_service import PDF, InlineQueue

HOUR_AGO = datetime.now(UTC) - timedelta(hours=1)


class Sent:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def enqueue_analysis(self, job_id: str) -> None:
        self.sent.append(job_id)


def _age(engine: Any, table: Any, row_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(update(table).where(table.c.id == row_id).values(updated_at=HOUR_AGO))


def test_a_lost_document_message_is_sent_again_once_stuck(
    docs: DocumentService,
    queue: InlineQueue,
) -> None:
    lost = docs.upload("t1", "lost.pdf", PDF + b"liquidated damages apply").document.id
    fresh = docs.upload("t1", "fresh.pdf", PDF + b"another file").document.id
    queue.pending.clear()  # both messages deleted from the broker
    _age(docs.store.engine, documents_table, lost)  # type: ignore[attr-defined]
    assert docs.resend_stuck(1800) == 1
    assert queue.pending == [("parse", lost)]  # the fresh one may still be on its way
    queue.drain()
    assert docs.store.get_by_id(lost).status is DocumentStatus.READY
    assert docs.store.get_by_id(fresh).status is DocumentStatus.QUEUED


def test_the_sweep_resends_stuck_documents_and_jobs(
    tmp_path: Any,
    docs: DocumentService,
    queue: InlineQueue,
    analysis: AnalysisService,
) -> None:
    doc = ready(docs, queue, b"This Agreement is made by the parties hereto.")
    sent = Sent()
    jobs = JobService(jobs=SqlJobStore(analysis.store.engine), analysis=analysis, queue=sent)
    job = jobs.submit("t1", "summary", doc)
    sent.sent.clear()  # its message lost
    sweep = Sweep(docs, jobs, Settings(data_dir=tmp_path).worker.stuck_after_s)
    assert sweep() == (0, 0)  # not stuck yet: moved a moment ago
    _age(analysis.store.engine, jobs_table, job.id)  # type: ignore[attr-defined]
    assert sweep() == (0, 1)
    assert sent.sent == [job.id]
    jobs.run(job.id)
    assert jobs.get("t1", job.id).status is JobStatus.DONE
    assert sweep() == (0, 0)
