"""Daily reports on Celery: the beat schedule, the build and dispatch task bodies, the queue.

Every day at `settings.reports.time` in `settings.reports.timezone` beat sends
`docsight.dispatch_reports`, which enqueues one `docsight.build_report` per tenant for the
previous day. Both run on the `reports` queue, consumed by workers of their own (never
behind analysis jobs). A build step that still waits for analyses re-schedules itself (a
retry with a `poll_s` countdown) instead of holding a worker thread; an analysis job that
ends sends a `refresh` step of its tenant's running builds, which does not re-schedule.
Production runs beat as its own process (`celery -A workers.main beat`); the embedded
deployment runs it in a thread of the API process (`EmbeddedBeat`).
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from celery import Celery
from celery.beat import EmbeddedService
from celery.schedules import crontab

from pipelines.errors import BackendUnavailable
from services.app.reports import ReportService
from services.settings import Settings
from workers.names import DISPATCH_REPORTS_TASK, SWEEP_TASK

log = logging.getLogger(__name__)


def beat_config(settings: Settings) -> dict[str, Any]:
    """Celery settings of the schedule: the daily reports (crontab in the reports' time
    zone) when enabled; the stuck-work sweep every `worker.sweep_every_s` when the workers
    are separate processes (the embedded deployment sweeps in a thread of its own)."""
    schedule: dict[str, Any] = {}
    if settings.reports.enabled:
        hour, minute = (int(part) for part in settings.reports.time.split(":"))
        schedule["daily-reports"] = {
            "task": DISPATCH_REPORTS_TASK,
            "schedule": crontab(hour=hour, minute=minute),
        }
    if not settings.worker.embedded:
        schedule["sweep-stuck-work"] = {
            "task": SWEEP_TASK,
            "schedule": settings.worker.sweep_every_s,
        }
    return {
        "timezone": settings.reports.timezone,
        "beat_schedule_filename": str((settings.data_dir / "celerybeat-schedule").resolve()),
        "beat_schedule": schedule,
    }


def run_build_step(
    service: ReportService, task: Any, tenant: str, day: str, resume: bool, refresh: bool = False
) -> None:
    """One build step; retried after `poll_s` while analyses are outstanding or a backend
    is down (the report row says where it is). A `refresh` step (an analysis ended) is not
    retried: the build's own chain of checks goes on."""
    poll = service.settings.poll_s
    try:
        step = service.step(
            tenant, date.fromisoformat(day), resume=resume or task.request.retries > 0
        )
    except BackendUnavailable as exc:
        if refresh:
            log.warning("report %s/%s not refreshed: %s", tenant, day, exc)
            return
        log.warning("report %s/%s: %s; retry in %.0f s", tenant, day, exc, poll)
        raise task.retry(exc=exc, countdown=poll) from exc
    if step.pending and refresh:
        log.info("report %s/%s refreshed: %d analyses pending", tenant, day, step.pending)
        return
    if step.pending:
        log.info(
            "report %s/%s: %d analyses pending (%d submitted); next check in %.0f s",
            tenant,
            day,
            step.pending,
            step.submitted,
            poll,
        )
        raise task.retry(countdown=poll)
    status = step.record.status if step.record else "gone"
    log.info("report %s/%s: %s", tenant, day, status)


class EmbeddedBeat:
    """Celery beat in a thread of the API process (the embedded deployment)."""

    def __init__(self, app: Celery) -> None:
        self.thread = EmbeddedService(app, thread=True)

    def start(self) -> None:
        self.thread.start()
        log.info("embedded beat started (daily reports)")

    def stop(self) -> None:
        self.thread.stop()
