"""Request dependencies: the container, the caller's tenant and the use cases, and their
`Annotated` aliases, which every route module uses."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.api.auth import key_service, presented_key
from services.app.reports import ReportService
from services.runtime.composition import Container


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def get_tenant(request: Request) -> str:
    """The caller's tenant: the one of its API key (checked by `ApiKeyMiddleware`, or here
    in an app without it), or the default tenant when `api.auth` is "none"."""
    settings = request.app.state.settings
    if settings.api.auth == "none":
        default: str = settings.api.default_tenant
        return default
    tenant: str | None = getattr(request.state, "tenant", None)
    if tenant is not None:
        return tenant
    keys, _ = key_service(request.app)
    return keys.authenticate(presented_key(request.headers.raw)).tenant


def get_reports(container: Annotated[Container, Depends(get_container)]) -> ReportService:
    return container.reports


ContainerDep = Annotated[Container, Depends(get_container)]
TenantDep = Annotated[str, Depends(get_tenant)]
ReportsDep = Annotated[ReportService, Depends(get_reports)]
