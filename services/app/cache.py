"""The analysis cache as AnalysisService sees it, and its hit/miss counting.

Two implementations: `SqlAnalysisCache` (the metadata store's database, the embedded
default) and `RedisAnalysisCache` (shared between API replicas in production); the container
chooses one from `settings.cache`. `CacheMetrics` counts lookups per kind both as plain
numbers (`GET /v1/analysis/cache`) and as Prometheus series (`GET /metrics`) in a registry of
its own, so several apps in one process do not collide.
"""

from __future__ import annotations

from threading import Lock

from prometheus_client import CollectorRegistry, Counter, Gauge

from services.app.ports import AnalysisCache

__all__ = ["AnalysisCache", "CacheMetrics", "hit_rate"]

KINDS = ("answers", "summaries", "risks", "comparisons")
"""`comparisons`: one document's row of a comparison table (`services.app.comparisons`)."""


def hit_rate(hits: int, misses: int) -> float | None:
    """hits / lookups, or None before the first lookup."""
    total = hits + misses
    return hits / total if total else None


class CacheMetrics:
    """Hits and misses per kind, in all and per tenant (`counts`):
    `docsight_analysis_cache_requests_total{kind,result}` and
    `docsight_analysis_cache_hit_ratio{kind}` in `registry` (a new one unless given; no
    tenant label: one series per tenant would grow without bound)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self._lock = Lock()
        self._counts = {k: {"hits": 0, "misses": 0} for k in KINDS}
        self._tenants: dict[str, dict[str, dict[str, int]]] = {}
        self._requests = Counter(
            "docsight_analysis_cache_requests",
            "Analysis cache lookups by kind and result.",
            ["kind", "result"],
            registry=self.registry,
        )
        self._ratio = Gauge(
            "docsight_analysis_cache_hit_ratio",
            "Hits over lookups of the analysis cache per kind since the process started.",
            ["kind"],
            registry=self.registry,
        )
        for kind in KINDS:  # every series exists from the start, at zero
            for result in ("hit", "miss"):
                self._requests.labels(kind=kind, result=result)

    def record(self, kind: str, *, hit: bool, tenant: str | None = None) -> None:
        with self._lock:
            counts = self._counts[kind]
            counts["hits" if hit else "misses"] += 1
            if tenant is not None:
                own = self._tenants.setdefault(tenant, {k: {"hits": 0, "misses": 0} for k in KINDS})
                own[kind]["hits" if hit else "misses"] += 1
            self._requests.labels(kind=kind, result="hit" if hit else "miss").inc()
            self._ratio.labels(kind=kind).set(hit_rate(counts["hits"], counts["misses"]) or 0.0)

    def counts(self, tenant: str | None = None) -> dict[str, dict[str, int]]:
        """Hits and misses per kind: of `tenant`'s lookups, or of all."""
        with self._lock:
            if tenant is None:
                return {k: dict(v) for k, v in self._counts.items()}
            own = self._tenants.get(tenant, {})
            return {k: dict(own.get(k, {"hits": 0, "misses": 0})) for k in KINDS}
