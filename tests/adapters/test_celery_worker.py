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


def assert_retried(app: Celery) -> None:
    """A task raising BackendUnavailable twice runs a third time, through `app`'s broker."""
    calls: list[str] = []
    done = threading.Event()

    @app.task(name="test.flaky", shared=False, autoretry_for=(BackendUnavailable,),
              retry_backoff=True,
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


def test_a_failing_task_is_retried_on_the_filesystem_broker(app: Celery) -> None:
    assert_retried(app)


def test_messages_sent_while_the_worker_reads_are_all_run(app: Celery, tmp_path: Path) -> None:
    """kombu's own filesystem transport let the worker read a message file before it was
    written and stop on the JSON error; ours renames whole files into the queue."""
    seen: list[int] = []
    lock = threading.Lock()

    @app.task(name="test.record", shared=False)
    def record(n: int) -> None:
        with lock:
            seen.append(n)

    queue_dir = tmp_path / "broker" / "queue"
    (queue_dir / f"{10**12}_garbage.ingest.msg").write_text("")  # unreadable: skipped
    worker = EmbeddedWorker(app, concurrency=2, queues=QUEUES)
    worker.start()
    try:
        def send(start: int) -> None:
            for n in range(start, start + 150):
                app.send_task("test.record", args=[n])

        senders = [threading.Thread(target=send, args=(k * 150,)) for k in range(2)]
        for thread in senders:
            thread.start()
        for thread in senders:
            thread.join()
        deadline = threading.Event()
        for _ in range(300):
            if len(seen) == 300:
                break
            deadline.wait(0.1)
        assert sorted(seen) == list(range(300))
        assert worker.is_alive()
    finally:
        worker.stop()
