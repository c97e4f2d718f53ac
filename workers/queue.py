"""The service's task queue, backed by Celery (tasks are sent by name: no import cycle).

A broker that cannot be reached becomes `BackendUnavailable`. Sends made by a request
(an upload, an analysis job) give up after about a second, so the caller gets a 503;
sends made by a worker between two steps of a document (parse -> index, a deferred
parse) wait up to `PATIENT_S` for the broker to come back, so a broker restart does not
leave a parsed document without its next message.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from celery import Celery
from kombu.exceptions import OperationalError

from pipelines.errors import BackendUnavailable
from workers.names import (
    ANALYSIS_TASK,
    COMPARISON_TASK,
    INDEX_TASK,
    PARSE_TASK,
    REINDEX_TASK,
    REPORT_TASK,
)

PATIENT_S = 300.0
_PATIENT = {
    "max_retries": int(PATIENT_S),
    "interval_start": 0.5,
    "interval_step": 0.5,
    "interval_max": 1.0,
}


class CeleryTaskQueue:
    """The task queue port (`services.app.ports.TaskQueue`) on a Celery app."""

    def __init__(self, app: Celery) -> None:
        self.app = app

    def _send(self, task: str, args: list[str], **options: Any) -> None:
        try:
            self.app.send_task(task, args=args, **options)
        except OperationalError as exc:
            raise BackendUnavailable(f"the task broker is unavailable: {exc}") from exc
        except AttributeError as exc:
            # kombu's Redis channel, while it reconnects after the broker restarted, can be
            # left without its connection ("'NoneType' object has no attribute 'client'"):
            # a broker failure like the others, so the step is retried and resends
            raise BackendUnavailable(f"the task broker connection is being reset: {exc}") from exc

    def enqueue_parse(self, document_id: str) -> None:
        self._send(PARSE_TASK, [document_id])

    def enqueue_parse_later(self, document_id: str, delay_s: float) -> None:
        self._send(PARSE_TASK, [document_id], countdown=delay_s, retry_policy=_PATIENT)

    def enqueue_index(self, document_id: str) -> None:
        self._send(INDEX_TASK, [document_id], retry_policy=_PATIENT)

    def enqueue_analysis(self, job_id: str) -> None:
        self._send(ANALYSIS_TASK, [job_id])

    def enqueue_reindex(self, tenant: str) -> None:
        self._send(REINDEX_TASK, [tenant])

    def enqueue_comparison(self, comparison_id: str) -> None:
        self._send(COMPARISON_TASK, [comparison_id])

    def enqueue_report(
        self, tenant: str, day: date, *, resume: bool = False, refresh: bool = False
    ) -> None:
        self.app.send_task(
            REPORT_TASK,
            args=[tenant, day.isoformat()],
            kwargs={"resume": resume, "refresh": refresh},
        )
