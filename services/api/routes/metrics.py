"""GET /metrics: Prometheus text format: analysis cache lookups and hit ratio, documents,
jobs and queue depth (read at scrape), task durations, LLM latency and tokens."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.api.deps import ContainerDep

router = APIRouter(tags=["metrics"])


@router.get("/metrics", response_class=Response)
def metrics(container: ContainerDep) -> Response:
    """The app's own registry (not prometheus_client's global one): the container's."""
    body = generate_latest(container.analysis.metrics.registry)
    return Response(content=body, media_type=CONTENT_TYPE_LATEST)
