"""Start and stop what runs beside the API: the Celery app, the embedded worker, resumption."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from celery import Celery

from services.app.auth import KeyService, Limiter, write_key_file
from services.app.sweep import Sweeper
from services.runtime.composition import Container, build_container, build_limiter
from services.settings import Settings
from workers.celery_app import INDEX_QUEUE, QUEUES, REPORT_QUEUE, create_celery
from workers.context import ContextSource
from workers.embedded import EmbeddedWorker
from workers.queue import CeleryTaskQueue
from workers.reports import EmbeddedBeat

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    celery: Celery
    worker: EmbeddedWorker | None
    beat: EmbeddedBeat | None = None
    report_worker: EmbeddedWorker | None = None  # the `reports` queue, never behind jobs
    index_worker: EmbeddedWorker | None = None  # the `index` queue: many threads, one batcher
    keys: KeyService | None = None
    limiter: Limiter | None = None
    sweeper: Sweeper | None = None  # stuck work re-sent (production: beat's SWEEP_TASK)

    def stop(self, timeout_s: float = 3.0) -> None:
        """Stop the threads, waiting `timeout_s` at most for each worker's running tasks
        (a task waiting on the LLM is left behind: its row re-sends it on the next start,
        and its daemon thread ends with the process)."""
        if self.sweeper is not None:
            self.sweeper.stop()
        if self.beat is not None:
            self.beat.stop()
        if self.worker is not None:
            self.worker.stop(timeout_s)
        if self.report_worker is not None:
            self.report_worker.stop(timeout_s)
        if self.index_worker is not None:
            self.index_worker.stop(timeout_s)


def start(settings: Settings) -> tuple[Container, Runtime]:
    """Build the container and, in the embedded deployment, run the worker in this process.
    The Celery app's tasks use the container built here (their context is made on the first
    task, after the container: the app must exist first, to send the container's tasks)."""
    context = ContextSource(lambda: container.task_context())
    celery = create_celery(settings, context=context)
    container = build_container(settings, queue=CeleryTaskQueue(celery))
    keys = container.keys
    if settings.api.auth == "keys":
        _first_key(settings, keys)
    worker = report_worker = index_worker = None
    if settings.worker.embedded:
        if settings.broker.mode == "filesystem":
            _drop_queued_messages(settings)
        worker = EmbeddedWorker(celery, concurrency=settings.worker.concurrency, queues=QUEUES)
        worker.start()
        report_worker = _report_worker(settings, context)
        report_worker.start()
        index_worker = _index_worker(settings, context)
        index_worker.start()
    beat = None
    if settings.worker.embedded and settings.reports.enabled:
        beat = EmbeddedBeat(celery)  # production runs `celery -A workers.main beat`
        beat.start()
    if settings.worker.resume_on_start:
        resumed = container.documents.resume_unfinished()
        if resumed:
            log.info("re-enqueued %d unfinished documents", resumed)
        jobs = container.jobs.resume_unfinished()
        if jobs:
            log.info("re-enqueued %d unfinished analysis jobs", jobs)
        reports = container.reports.resume_unfinished()
        if reports:
            log.info("re-enqueued %d unfinished daily reports", reports)
        comparisons = container.comparisons.resume_unfinished()
        if comparisons:
            log.info("re-enqueued %d unfinished comparisons", comparisons)
        moves = container.reindex.resume_unfinished()
        if moves:
            log.info("re-enqueued %d unfinished re-index moves", moves)
    sweeper = None
    if settings.worker.embedded:
        sweeper = Sweeper(container.sweep, settings.worker.sweep_every_s)
        sweeper.start()
    return container, Runtime(
        celery,
        worker,
        beat,
        report_worker=report_worker,
        index_worker=index_worker,
        keys=keys,
        limiter=build_limiter(settings),
        sweeper=sweeper,
    )


def _report_worker(settings: Settings, context: ContextSource) -> EmbeddedWorker:
    """The `reports` queue's own worker, on an app of its own (a worker selects its queues
    on its app; its pool threads run tasks through the default app, which registers the
    same tasks), sharing the container, polling the broker (one event loop a process)."""
    app = create_celery(settings, default=False, context=context)
    return EmbeddedWorker(
        app, concurrency=1, queues=(REPORT_QUEUE,), name="reports", event_loop=False
    )


def _index_worker(settings: Settings, context: ContextSource) -> EmbeddedWorker:
    """The `index` queue's worker, built like the reports worker: its threads wait for the
    embedding batches the documents in flight share (`services.app.embed_batches`)."""
    app = create_celery(settings, default=False, context=context)
    return EmbeddedWorker(
        app,
        concurrency=settings.worker.index_concurrency,
        queues=(INDEX_QUEUE,),
        name="index",
        event_loop=False,
    )


def _first_key(settings: Settings, keys: KeyService) -> None:
    """On a store without any API key, create one for the default tenant, print it once
    and write it to <data_dir>/api_key (mode 0600), where the CLI finds it."""
    plaintext = keys.first_key(settings.api.default_tenant)
    if plaintext is None:
        return
    path = settings.api_key_file
    write_key_file(path, plaintext)
    # Printed, not logged: shown once on the console, kept out of log collectors' fields.
    print(
        f"\nCreated the first API key, of tenant {settings.api.default_tenant!r} (shown "
        f"once; also written to {path.resolve()}, mode 0600):\n\n    {plaintext}\n\n"
        "Send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'. "
        "More keys: docsight keys create --tenant T --name N\n",
        flush=True,
    )
    log.info("created the first API key for tenant %s in %s", settings.api.default_tenant, path)


def _drop_queued_messages(settings: Settings) -> None:
    """The store is the source of truth: messages left from a previous run are re-sent."""
    queue_dir = settings.broker_dir / "queue"
    if queue_dir.is_dir():
        for message in queue_dir.glob("*.msg"):
            message.unlink(missing_ok=True)
