"""Celery application factory. Settings are read here, never at import time."""

from __future__ import annotations

from typing import Any

from celery import Celery

from services.settings import Settings
from workers.context import NO_CONTEXT, ContextSource, bind
from workers.fs_transport import TRANSPORT
from workers.metrics import connect_signals
from workers.names import (
    ANALYSIS_QUEUE,
    ANALYSIS_TASK,
    COMPARISON_TASK,
    DISPATCH_REPORTS_TASK,
    INDEX_QUEUE,
    INDEX_TASK,
    INGEST_QUEUE,
    QUEUES,
    REPORT_QUEUE,
    REPORT_TASK,
)
from workers.reports import beat_config
from workers.tasks import register_tasks

__all__ = [
    "ANALYSIS_QUEUE",
    "INDEX_QUEUE",
    "INGEST_QUEUE",
    "QUEUES",
    "REPORT_QUEUE",
    "broker_config",
    "create_celery",
]


def broker_config(settings: Settings) -> dict[str, Any]:
    """Broker URL and transport options for the configured mode."""
    if settings.broker.mode == "redis":
        return {"broker_url": settings.broker.url, "broker_transport_options": {}}
    folder = settings.broker_dir.resolve()
    for sub in ("queue", "processed", "control"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return {
        # A host name, though the transport ignores it: without one kombu warns "No hostname
        # was supplied" each time a connection is made or cloned (every /ready, every send).
        "broker_url": "localhost",
        "broker_transport": TRANSPORT,
        "broker_transport_options": {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "store_processed": False,
            "control_folder": str(folder / "control"),
            "polling_interval": settings.broker.polling_interval_s,
        },
    }


def create_celery(
    settings: Settings | None = None, *, default: bool = True, context: ContextSource = NO_CONTEXT
) -> Celery:
    """Build the Celery app for these settings, with its tasks registered: ingestion on the
    `ingest` queue, analysis jobs (minutes of LLM time each) on `analysis`, daily report
    builds (short steps) on `reports`, whose own workers never wait behind the others.
    `default=False`: a second app of the same process (the embedded reports worker: a
    worker selects its queues on its app, so two workers of one app would share them). It
    has no remote control: two workers of one process binding their control mailboxes to
    the filesystem broker's exchange file at once race on that file (kombu truncates it
    before taking its lock; the other worker then reads empty JSON and stops).
    `context`: what the tasks call (workers/context.py; the default only sends tasks)."""
    settings = settings or Settings()
    app = Celery("docsight", set_as_current=False)
    app.conf.update(
        **broker_config(settings),
        task_default_queue=INGEST_QUEUE,
        task_routes={
            ANALYSIS_TASK: {"queue": ANALYSIS_QUEUE},
            COMPARISON_TASK: {"queue": ANALYSIS_QUEUE},
            INDEX_TASK: {"queue": INDEX_QUEUE},
            REPORT_TASK: {"queue": REPORT_QUEUE},
            DISPATCH_REPORTS_TASK: {"queue": REPORT_QUEUE},
        },
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        task_serializer="json",
        accept_content=["json"],
        enable_utc=True,
        worker_enable_remote_control=default,
    )
    app.conf.update(**beat_config(settings))  # read by beat (embedded or `celery beat`)
    # Celery builds a retry's message through the *default* app (the signature has no app
    # of its own): without this, a retry goes to amqp://localhost and the task is rejected.
    # The process's main app (the API's or a worker's) is the default; a second app sends
    # to the same broker with the same routes, so its retries go where they should.
    if default:
        app.set_default()
    bind(app, settings, context)  # for the signal handlers (workers/metrics.py)
    register_tasks(app, settings, context)
    connect_signals()  # task durations and log ids (workers/metrics.py)
    return app
