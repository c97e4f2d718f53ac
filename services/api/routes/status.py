"""GET /v1/status: what is waiting and where things stand (`docsight status` prints it)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import APIRouter
from sqlalchemy.exc import SQLAlchemyError

from pipelines.errors import DocsightError
from services.api.deps import ContainerDep, TenantDep
from services.runtime.metrics import count_jobs_by_status

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


@router.get("/v1/status")
def status(
    container: ContainerDep,
    tenant: TenantDep,
) -> dict[str, object]:
    """Messages waiting per queue (shared by every tenant: counts only), and the caller's
    analysis jobs and documents by status; a part whose source is unreachable is null."""
    found: dict[str, object] = {"queues": container.metrics.status().get("queues")}
    sources: dict[str, Callable[[], dict[str, int]]] = {
        "jobs": lambda: count_jobs_by_status(container.store.engine, tenant),
        "documents": lambda: container.store.count_by_status(tenant),
    }
    for name, count in sources.items():
        try:
            found[name] = count()
        except (DocsightError, SQLAlchemyError) as exc:
            log.warning("status of %s unknown: %s", name, exc)
            found[name] = None
    return found
