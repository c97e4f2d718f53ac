"""The embedded Celery worker on the real filesystem broker: tasks of both queues run, and
a task raising BackendUnavailable is retried through the same broker until it succeeds."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from celery import Celery

from pipelines.errors import BackendUnavailable
from services.settings import Settings
from workers.celery_app import ANALYSIS_QUEUE, QUEUES, create_celery
from workers.embedded import EmbeddedWorker


@pytest.fixture
def app(tmp_path: Path) -> Celery:
    return create_celery(Settings(data_dir=tmp_path))


def test_a_failing_task_is_retried_on_the_filesystem_broker(app: Celery) -> None:
    calls: list[str] = []
    done = threading.Event()

    @app.task(name="test.flaky", autoretry_for=(BackendUnavailable,), retry_backoff=True,
              retry_backoff_max=1, max_retries=5)
    def flaky(queue: str) -> None:
        calls.append(queue)
        if len(calls) < 3:
            raise BackendUnavailable("the backend is down")
        done.set()

    worker = EmbeddedWorker(app, concurrency=1, queues=QUEUES)
    worker.start()
    try:
        app.send_task("test.flaky", args=[ANALYSIS_QUEUE], queue=ANALYSIS_QUEUE)
        assert done.wait(30), f"retries did not run: {calls}"
        assert calls == [ANALYSIS_QUEUE] * 3
    finally:
        worker.stop()
