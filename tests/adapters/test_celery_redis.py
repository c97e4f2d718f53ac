"""The Celery app on a real Redis broker (redis-server on loopback), with the embedded worker:
tasks of both queues run, a task raising BackendUnavailable is retried through Redis, queue
depth is read from the Redis lists, report steps run on their own worker in the same
process while analysis jobs hold every thread of the other, and the message of a worker
SIGKILLed mid-task (acks_late: still unacknowledged) is delivered again once its visibility
timeout passes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from celery import Celery

from services.settings import Settings
from tests.adapters.test_celery_worker import assert_reports_not_behind_jobs, assert_retried
from tests.servers import redis_bin, redis_server
from workers.celery_app import ANALYSIS_QUEUE, INGEST_QUEUE, QUEUES, create_celery
from workers.embedded import EmbeddedWorker
from workers.metrics import QueueDepths

REPO = Path(__file__).resolve().parents[2]
# Test only: an unacknowledged message is visible again after 2 s (the default is an hour),
# and the worker looks for such messages every second.
FAST_REDELIVERY = {
    "visibility_timeout": 2,
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}

KILLED_WORKER = """
import sys, time
from pathlib import Path
from services.settings import Settings
from workers.celery_app import QUEUES, create_celery
from workers.embedded import EmbeddedWorker

url, data_dir, marker = sys.argv[1:4]
app = create_celery(Settings(data_dir=data_dir, broker={"mode": "redis", "url": url}))
app.conf.broker_transport_options = OPTIONS

@app.task(name="test.slow", shared=False)
def slow(n):
    Path(marker).write_text(str(n))
    time.sleep(600)

EmbeddedWorker(app, concurrency=1, queues=QUEUES).start()
time.sleep(600)
""".replace("OPTIONS", repr(FAST_REDELIVERY))


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    if redis_bin() is None:
        pytest.skip("redis-server not installed (apt-get install redis-server)")
    with redis_server() as url:
        yield url


@pytest.fixture
def settings(tmp_path: Path, redis_url: str) -> Settings:
    redis.Redis.from_url(redis_url).flushdb()  # each test starts on an empty broker
    return Settings(data_dir=tmp_path, broker={"mode": "redis", "url": redis_url})


@pytest.fixture
def app(settings: Settings) -> Celery:
    return create_celery(settings)


def wait_for(predicate: object, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_tasks_of_both_queues_run_and_depth_is_read_from_redis(
    app: Celery, settings: Settings
) -> None:
    seen: list[tuple[str, int]] = []
    lock = threading.Lock()

    @app.task(name="test.record", shared=False)
    def record(queue: str, n: int) -> None:
        with lock:
            seen.append((queue, n))

    for n in range(3):
        app.send_task("test.record", args=[INGEST_QUEUE, n], queue=INGEST_QUEUE)
    app.send_task("test.record", args=[ANALYSIS_QUEUE, 9], queue=ANALYSIS_QUEUE)
    depths = QueueDepths(settings, QUEUES)
    try:
        assert depths() == {INGEST_QUEUE: 3, ANALYSIS_QUEUE: 1}
        worker = EmbeddedWorker(app, concurrency=2, queues=QUEUES)
        worker.start()
        try:
            assert wait_for(lambda: len(seen) == 4, 30), seen
            assert sorted(seen) == [(ANALYSIS_QUEUE, 9)] + [(INGEST_QUEUE, n) for n in range(3)]
            assert depths() == {INGEST_QUEUE: 0, ANALYSIS_QUEUE: 0}
        finally:
            worker.stop()
    finally:
        depths.close()


def test_a_failing_task_is_retried_through_redis(app: Celery) -> None:
    assert_retried(app)


def test_the_message_of_a_killed_worker_is_delivered_again(
    app: Celery, settings: Settings, tmp_path: Path
) -> None:
    marker = tmp_path / "started"
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            KILLED_WORKER,
            str(settings.broker.url),
            str(tmp_path / "child"),
            str(marker),
        ],
        cwd=REPO,
        env=os.environ | {"HF_HUB_OFFLINE": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        app.send_task("test.slow", args=[7], queue=INGEST_QUEUE)
        assert wait_for(marker.exists, 60), child.stderr.read().decode()[-3000:]  # type: ignore[union-attr]
        child.send_signal(signal.SIGKILL)  # mid-task: the message was never acknowledged
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    client = redis.Redis.from_url(str(settings.broker.url))
    assert client.hlen("unacked") == 1  # kombu keeps the taken message until it is acked
    assert QueueDepths(settings, QUEUES)() == {INGEST_QUEUE: 0, ANALYSIS_QUEUE: 0}

    app.conf.broker_transport_options = FAST_REDELIVERY
    again: list[int] = []

    @app.task(name="test.slow", shared=False)
    def slow(n: int) -> None:
        again.append(n)

    worker = EmbeddedWorker(app, concurrency=1, queues=QUEUES)
    worker.start()
    try:
        assert wait_for(lambda: again == [7], 30), again
        time.sleep(3)  # more than the visibility timeout: not delivered a third time
        assert again == [7]
        assert wait_for(lambda: client.hlen("unacked") == 0, 5)
    finally:
        worker.stop()
        client.close()


def test_report_steps_never_wait_behind_analysis_jobs_on_redis(app: Celery) -> None:
    assert_reports_not_behind_jobs(app)  # two workers, one process, one Redis broker
