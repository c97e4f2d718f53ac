"""GET /v1/status: what is waiting and where things stand (`docsight status` prints it)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from services.api.deps import get_container
from services.container import Container

router = APIRouter(tags=["health"])


@router.get("/v1/status")
def status(container: Annotated[Container, Depends(get_container)]) -> dict[str, object]:
    """Messages waiting per queue, analysis jobs by status and documents by status (every
    tenant); a part whose source is unreachable is null."""
    return dict(container.metrics.status())
