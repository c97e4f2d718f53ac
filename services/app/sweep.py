"""Stuck work sent again: documents and analysis jobs whose row has not moved for
`worker.stuck_after_s` (a broker message lost between restarts) are re-enqueued; contracts
whose next renewal, notice or reporting date has passed are read again
(`ObligationService.roll_forward`), so the calendar shows the next one.

`sweep` is called every `worker.sweep_every_s`: by a thread of the embedded deployment
(`Sweeper`), by Celery beat in production (`workers.tasks`, task `SWEEP_TASK`). Steps are
idempotent and a job's row guards its runs, so a message sent twice costs a repeat only.
"""

from __future__ import annotations

import logging
import threading

from pipelines.errors import DocsightError
from services.app.comparisons import ComparisonService
from services.app.documents import DocumentService
from services.app.jobs import JobService
from services.app.obligations import ObligationService
from services.app.reindex import ReindexService

log = logging.getLogger(__name__)


class Sweep:
    """Called, re-sends the documents and jobs stuck for `stuck_after_s`; returns
    (documents, jobs) re-sent."""

    def __init__(
        self,
        documents: DocumentService,
        jobs: JobService,
        stuck_after_s: float,
        reindex: ReindexService | None = None,
        obligations: ObligationService | None = None,
        comparisons: ComparisonService | None = None,
    ) -> None:
        self.documents, self.jobs, self.stuck_after_s = documents, jobs, stuck_after_s
        self.reindex = reindex  # tenants' moves to another collection, re-sent the same way
        self.obligations = obligations  # contracts whose next renewal/notice date passed
        self.comparisons = comparisons  # comparison tables, re-sent like the jobs

    def __call__(self) -> tuple[int, int]:
        idle = self.stuck_after_s
        documents = self.documents.resend_stuck(idle)
        jobs = self.jobs.resume_unfinished(idle_for_s=idle)
        if self.reindex is not None and self.reindex.resend_stuck(idle):
            log.warning("re-sent stuck re-index moves (no change for %.0f s)", idle)
        if self.comparisons is not None and self.comparisons.resume_unfinished(idle_for_s=idle):
            log.warning("re-sent stuck comparisons (no change for %.0f s)", idle)
        if self.obligations is not None and (rolled := self.obligations.roll_forward()):
            log.info("obligations rolled forward: %d contracts read again", rolled)
        if documents or jobs:
            log.warning(
                "re-sent stuck work: %d documents, %d analysis jobs (no change for %.0f s)",
                documents,
                jobs,
                idle,
            )
        return documents, jobs


class Sweeper:
    """`sweep` every `every_s` seconds in a daemon thread, until `stop`."""

    def __init__(self, sweep: Sweep, every_s: float) -> None:
        self.sweep, self.every_s = sweep, every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sweeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.sweep()
            except DocsightError as exc:  # a backend down: the next round tries again
                log.warning("sweep skipped: %s", exc)
