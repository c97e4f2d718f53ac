"""A Celery worker running in a thread of the API process (the embedded deployment).

One process then owns the embedded index, as both Qdrant engines require. Daily report
builds get a worker of their own (`queues=("reports",)`, named `reports@...`), so a
build never waits behind ingestion or analysis jobs that hold every thread of the other.
kombu's event loop is one per process: a second worker polls instead (`event_loop=False`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from celery import Celery
from celery.worker import WorkController
from celery.worker import state as worker_state

log = logging.getLogger(__name__)


class EmbeddedWorker:
    def __init__(
        self,
        app: Celery,
        *,
        concurrency: int = 2,
        queues: Sequence[str] = ("ingest",),
        name: str = "embedded",
        event_loop: bool = True,
    ) -> None:
        self.app = app
        self.name = name
        self.event_loop = event_loop
        self.queues = list(queues)
        self.concurrency = concurrency
        self._controller: WorkController | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._controller = WorkController(
            app=self.app,
            pool="threads",
            concurrency=self.concurrency,
            queues=self.queues,
            hostname=f"{self.name}@{threading.get_native_id()}",
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
            loglevel="INFO",
            use_eventloop=None if self.event_loop else False,
        )
        self._thread = threading.Thread(
            target=self._controller.start, name=f"docsight-{self.name}", daemon=True
        )
        self._thread.start()
        log.info(
            "embedded worker %s started (%d threads, queues %s)",
            self.name,
            self.concurrency,
            ",".join(self.queues),
        )

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout_s: float = 30.0) -> None:
        if self._thread is None:
            return
        worker_state.should_terminate = 0
        self._thread.join(timeout_s)
        worker_state.should_terminate = None
        if self._thread.is_alive():
            log.warning("embedded worker did not stop within %.0f s", timeout_s)
        self._thread = None
