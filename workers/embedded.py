"""A Celery worker running in a thread of the API process (the embedded deployment).

One process then owns the embedded index, as both Qdrant engines require.
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
        self, app: Celery, *, concurrency: int = 2, queues: Sequence[str] = ("ingest",)
    ) -> None:
        self.app = app
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
            hostname=f"embedded@{threading.get_native_id()}",
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
            loglevel="INFO",
        )
        self._thread = threading.Thread(
            target=self._controller.start, name="docsight-worker", daemon=True
        )
        self._thread.start()
        log.info("embedded worker started (%d threads, queues %s)", self.concurrency,
                 ",".join(self.queues))

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
