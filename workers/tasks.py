"""Thin, idempotent ingestion tasks keyed by document id.

Bad documents fail inside the service (status `failed` with a reason); what is left to
raise here is an unavailable backend, which Celery retries with backoff.
"""

from __future__ import annotations

from celery import Celery

from pipelines.errors import BackendUnavailable

PARSE_TASK = "docsight.parse_document"
INDEX_TASK = "docsight.index_document"

_RETRY = {
    "autoretry_for": (BackendUnavailable,),
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "max_retries": 8,
}


def register_tasks(app: Celery) -> None:
    from workers.celery_app import container_of

    @app.task(name=PARSE_TASK, **_RETRY)  # type: ignore[misc]
    def parse_document(document_id: str) -> None:
        container_of(app).documents.run_parse(document_id)

    @app.task(name=INDEX_TASK, **_RETRY)  # type: ignore[misc]
    def index_document(document_id: str) -> None:
        container_of(app).documents.run_index(document_id)
