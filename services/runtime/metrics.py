"""Prometheus series of one deployment, in the registry the analysis cache counts into
(one registry per container, so several apps in one process never share series).

Recorded as things happen: task durations (Celery signals, workers/metrics.py) and LLM
request latency and tokens (an observer on the chat model). Computed at each scrape:
documents by status, analysis jobs by status, and queue depth per queue.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from pipelines.models import Completion
from services.adapters.job_counts import count_jobs_by_status

__all__ = ["ServiceMetrics", "count_jobs_by_status"]

log = logging.getLogger(__name__)

Counts = Callable[[], dict[str, int]]
TASK_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
LLM_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)


class _ScrapeGauges(Collector):
    """Gauges read from their sources at each scrape; a source that fails is left out of
    that scrape (with a log line) instead of failing the whole page."""

    def __init__(self, sources: dict[str, tuple[str, str, Counts]]) -> None:
        self.sources = sources  # metric name -> (help, label name, counts)

    def collect(self) -> Iterator[Metric]:
        for name, (help_text, label, counts) in self.sources.items():
            try:
                values = counts()
            except Exception as exc:  # noqa: BLE001 - reported, the other series still served
                log.warning("metric %s not collected: %s", name, exc)
                continue
            family = GaugeMetricFamily(name, help_text, labels=[label])
            for key, value in sorted(values.items()):
                family.add_metric([key], value)
            yield family


class ServiceMetrics:
    """The deployment's series in `registry`; `documents`, `jobs` and `queues` are read at
    scrape time (and by `status()`, which GET /v1/status and `docsight status` show)."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        documents: Counts | None = None,
        jobs: Counts | None = None,
        queues: Counts | None = None,
    ) -> None:
        self.registry = registry or CollectorRegistry()
        self._sources = {"documents": documents, "jobs": jobs, "queues": queues}
        self.task_seconds = Histogram(
            "docsight_task_duration_seconds",
            "Celery task run time by task name and end state.",
            ["task", "state"],
            buckets=TASK_BUCKETS,
            registry=self.registry,
        )
        self.llm_seconds = Histogram(
            "docsight_llm_request_seconds",
            "LLM request time (retries included) by model and outcome.",
            ["model", "outcome"],
            buckets=LLM_BUCKETS,
            registry=self.registry,
        )
        self.llm_tokens = Counter(
            "docsight_llm_tokens",
            "LLM tokens by model and type (prompt, completion, cached).",
            ["model", "type"],
            registry=self.registry,
        )
        gauges = {
            "docsight_documents": ("Documents by status.", "status", documents),
            "docsight_jobs": ("Analysis jobs by status.", "status", jobs),
            "docsight_queue_depth": ("Messages waiting per broker queue.", "queue", queues),
        }
        self.registry.register(
            _ScrapeGauges(
                {name: (h, label, source) for name, (h, label, source) in gauges.items() if source}
            )
        )

    def observe_task(self, task: str, seconds: float, state: str) -> None:
        self.task_seconds.labels(task=task, state=state.lower()).observe(seconds)

    def observe_llm(self, model: str, seconds: float, completion: Completion | None) -> None:
        """One request of the chat model: None when it failed (no tokens are known)."""
        self.llm_seconds.labels(model=model, outcome="ok" if completion else "error").observe(
            seconds
        )
        if completion is None:
            return
        tokens = self.llm_tokens
        tokens.labels(model=model, type="prompt").inc(completion.prompt_tokens)
        tokens.labels(model=model, type="completion").inc(completion.completion_tokens)
        tokens.labels(model=model, type="cached").inc(completion.cached_prompt_tokens or 0)

    def status(self) -> dict[str, dict[str, int] | None]:
        """Queue depth, jobs and documents by status now; None where the source failed."""
        found: dict[str, dict[str, int] | None] = {}
        for name, source in self._sources.items():
            try:
                found[name] = source() if source else None
            except Exception as exc:  # noqa: BLE001 - reported as unknown
                log.warning("status of %s unknown: %s", name, exc)
                found[name] = None
        return found
