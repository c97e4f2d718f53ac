"""What Celery tasks add to metrics and logs, through Celery's signals.

- `task_prerun` / `task_postrun`: the task's run time goes into the container's
  `docsight_task_duration_seconds{task,state}` (the API's registry in the embedded
  deployment), and its `document_id` / `job_id` (from the task's argument) is bound in
  the log context while it runs.
- A standalone worker (`celery -A workers.main worker`) configures the JSON/text logging
  of `settings.log` and, when `settings.worker.metrics_port` is set, serves its own
  /metrics on that port (prometheus_client's `start_http_server`). Task and LLM series
  are recorded in the process that runs the task: run such workers with
  `--pool threads` (a prefork pool's children keep their series to themselves).

`QueueDepths` counts the messages waiting per queue: files of the filesystem broker, or
LLEN of the Redis lists (kombu's priority sub-queues included).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import suppress
from contextvars import Token
from typing import Any

from celery import signals
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from services.app.ports import TaskMetrics
from services.runtime import logs
from services.settings import Settings
from workers.context import binding_of
from workers.names import ANALYSIS_TASK, INDEX_TASK, PARSE_TASK

log = logging.getLogger(__name__)

_ID_ARGUMENT = {PARSE_TASK: "document_id", INDEX_TASK: "document_id", ANALYSIS_TASK: "job_id"}
_REDIS_PRIORITY_SEP = "\x06\x16"  # kombu's redis transport: queue + sep + priority
_REDIS_PRIORITIES = (3, 6, 9)  # the default priority steps besides 0 (the plain key)
_running: dict[str, tuple[float, list[Token[str | None]]]] = {}
_lock = threading.Lock()
_connected = False


class QueueDepths:
    """Messages waiting per queue (taken but unacknowledged ones are not counted)."""

    def __init__(self, settings: Settings, queues: Sequence[str]) -> None:
        self.settings = settings
        self.queues = list(queues)
        self._redis: Any = None

    def __call__(self) -> dict[str, int]:
        if self.settings.broker.mode == "redis":
            return self._redis_depths()
        folder = self.settings.broker_dir / "queue"
        counts = dict.fromkeys(self.queues, 0)
        if folder.is_dir():
            for path in folder.iterdir():
                parts = path.name.rsplit(".", 2)
                if len(parts) == 3 and parts[2] == "msg" and parts[1] in counts:
                    counts[parts[1]] += 1
        return counts

    def _redis_depths(self) -> dict[str, int]:
        if self._redis is None:
            import redis

            self._redis = redis.Redis.from_url(
                str(self.settings.broker.url), socket_timeout=2, socket_connect_timeout=2
            )
        pipe = self._redis.pipeline(transaction=False)
        for queue in self.queues:
            pipe.llen(queue)
            for priority in _REDIS_PRIORITIES:
                pipe.llen(f"{queue}{_REDIS_PRIORITY_SEP}{priority}")
        lengths = pipe.execute()
        per_queue = 1 + len(_REDIS_PRIORITIES)
        return {
            queue: sum(lengths[i * per_queue : (i + 1) * per_queue])
            for i, queue in enumerate(self.queues)
        }

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()
            self._redis = None


def metrics_of(app: Any) -> TaskMetrics | None:
    """The metrics of the app's task context, or None before it is built."""
    binding = binding_of(app)
    context = binding.context.built() if binding is not None else None
    return context.metrics if context is not None else None


def settings_of(app: Any) -> Settings | None:
    binding = binding_of(app)
    return binding.settings if binding is not None else None


def _ids(task_name: str, args: Any, kwargs: Any) -> dict[str, str | None]:
    name = _ID_ARGUMENT.get(task_name)
    if name is None:
        return {}
    value = (kwargs or {}).get(name)
    if value is None and args:
        value = args[0]
    return {name: str(value)} if value is not None else {}


def _on_prerun(
    task_id: str | None = None, task: Any = None, args: Any = None, kwargs: Any = None, **_: Any
) -> None:
    if task_id is None or task is None:
        return
    tokens = logs.bind(**_ids(task.name, args, kwargs))
    with _lock:
        _running[task_id] = (time.perf_counter(), tokens)


def _on_postrun(
    task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any
) -> None:
    if task_id is None or task is None:
        return
    with _lock:
        started, tokens = _running.pop(task_id, (None, []))
    with suppress(ValueError):  # bound in another context: nothing to undo here
        logs.unbind(tokens)
    metrics = metrics_of(task.app)
    if started is not None and metrics is not None:
        metrics.observe_task(task.name, time.perf_counter() - started, state or "unknown")


class _ContainerRegistry(Collector):
    """The series of the worker's task context, once built (by the first task)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        metrics = metrics_of(self.app)
        if metrics is not None:
            yield from metrics.registry.collect()


def serve_worker_metrics(app: Any, port: int, addr: str = "0.0.0.0") -> CollectorRegistry:
    """/metrics of a standalone worker on `port` (prometheus_client's HTTP server)."""
    registry = CollectorRegistry()
    registry.register(_ContainerRegistry(app))
    start_http_server(port, addr=addr, registry=registry)
    log.info("worker metrics on http://%s:%d/metrics", addr, port)
    return registry


def _on_worker_init(sender: Any = None, **_: Any) -> None:
    """A `celery worker` command (not the embedded worker) is starting its pool."""
    from celery.apps.worker import Worker

    if not isinstance(sender, Worker):
        return
    settings = settings_of(sender.app)
    if settings is None or settings.worker.metrics_port is None:
        return
    pool = str(sender.pool_cls)
    if "prefork" in pool or "processes" in pool:
        log.warning(
            "worker metrics: tasks run in prefork children whose series are not "
            "served here (pool %s); run the worker with --pool threads",
            pool,
        )
    serve_worker_metrics(sender.app, settings.worker.metrics_port)


def _on_setup_logging(**_: Any) -> None:
    """Celery leaves logging to us when this signal has a receiver (standalone workers)."""
    from celery import current_app

    # current_app is a proxy, which the weak-keyed bindings cannot hold: look up the app
    settings = settings_of(current_app._get_current_object()) or Settings()
    logs.configure_logging(settings.log.format, settings.log.level)


def connect_signals() -> None:
    """Connect the handlers once per process (they find each task's app themselves)."""
    global _connected
    with _lock:
        if _connected:
            return
        signals.task_prerun.connect(_on_prerun, weak=False, dispatch_uid="docsight.prerun")
        signals.task_postrun.connect(_on_postrun, weak=False, dispatch_uid="docsight.postrun")
        signals.worker_init.connect(
            _on_worker_init, weak=False, dispatch_uid="docsight.worker_init"
        )
        signals.setup_logging.connect(
            _on_setup_logging, weak=False, dispatch_uid="docsight.setup_logging"
        )
        _connected = True
