"""The embedded Celery worker on the real filesystem broker: tasks of both queues run, a
task raising BackendUnavailable is retried through the same broker until it succeeds, and
report builds run on their own queue and worker while analysis jobs hold every thread."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from celery import Celery

from pipelines.errors import BackendUnavailable
from services.settings import Settings
from workers.celery_app import ANALYSIS_QUEUE, QUEUES, REPORT_QUEUE, create_celery
from workers.embedded import EmbeddedWorker
from workers.metrics import settings_of
from workers.tasks import DISPATCH_REPORTS_TASK, REPORT_TASK


@pytest.fixture
def app(tmp_path: Path) -> Celery:
    return create_celery(Settings(data_dir=tmp_path))


def assert_retried(app: Celery) -> None:
    """A task raising BackendUnavailable twice runs a third time, through `app`'s broker."""
    calls: list[str] = []
    done = threading.Event()

    @app.task(
        name="test.flaky",
        shared=False,
        autoretry_for=(BackendUnavailable,),
        retry_backoff=True,
        retry_backoff_max=1,
        max_retries=5,
    )
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


def assert_reports_not_behind_jobs(app: Celery) -> None:
    """With the analysis worker's only thread held and more jobs queued behind it, a task on
    the reports queue runs at once on the embedded deployment's second worker."""
    assert app.conf.task_routes[REPORT_TASK] == {"queue": REPORT_QUEUE}
    assert app.conf.task_routes[DISPATCH_REPORTS_TASK] == {"queue": REPORT_QUEUE}
    release, report_ran = threading.Event(), threading.Event()
    started: list[int] = []

    @app.task(name="test.slow_job", shared=False)
    def slow_job(n: int) -> None:
        started.append(n)
        release.wait(60)

    def report_step() -> None:
        report_ran.set()

    # As services.runtime.processes: a second app selects the reports queue; its pool threads run a
    # task through the process's default app, so both know it (as both know REPORT_TASK).
    report_app = create_celery(settings_of(app), default=False)
    for each in (app, report_app):
        each.task(name="test.report_step", shared=False)(report_step)

    worker = EmbeddedWorker(app, concurrency=1, queues=QUEUES)
    reports = EmbeddedWorker(
        report_app, concurrency=1, queues=(REPORT_QUEUE,), name="reports", event_loop=False
    )
    worker.start()
    reports.start()
    try:
        for n in range(3):
            app.send_task("test.slow_job", args=[n], queue=ANALYSIS_QUEUE)
        for _ in range(600):  # the workers' start: seconds on a busy machine
            if started:
                break
            release.wait(0.1)
        # the one thread is held by one job (which of the three: the filesystem broker
        # orders messages sent in the same millisecond either way); two wait behind it
        assert len(started) == 1
        first = list(started)
        app.send_task("test.report_step", queue=REPORT_QUEUE)
        assert report_ran.wait(10), "the report step waited behind the analysis jobs"
        assert started == first
    finally:
        release.set()
        worker.stop()
        reports.stop()


def test_report_steps_never_wait_behind_analysis_jobs(app: Celery) -> None:
    assert_reports_not_behind_jobs(app)


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
