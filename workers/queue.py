"""The service's task queue, backed by Celery (tasks are sent by name: no import cycle)."""

from __future__ import annotations

from celery import Celery

from workers.tasks import ANALYSIS_TASK, INDEX_TASK, PARSE_TASK


class CeleryTaskQueue:
    def __init__(self, app: Celery) -> None:
        self.app = app

    def enqueue_parse(self, document_id: str) -> None:
        self.app.send_task(PARSE_TASK, args=[document_id])

    def enqueue_parse_later(self, document_id: str, delay_s: float) -> None:
        self.app.send_task(PARSE_TASK, args=[document_id], countdown=delay_s)

    def enqueue_index(self, document_id: str) -> None:
        self.app.send_task(INDEX_TASK, args=[document_id])

    def enqueue_analysis(self, job_id: str) -> None:
        self.app.send_task(ANALYSIS_TASK, args=[job_id])
