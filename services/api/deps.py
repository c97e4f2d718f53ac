"""Request dependencies: the container and the caller's tenant."""

from __future__ import annotations

from fastapi import Request

from services.container import Container


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def get_tenant(request: Request) -> str:
    """The caller's tenant. Until API keys exist, every caller is the default tenant."""
    tenant: str = request.app.state.settings.api.default_tenant
    return tenant
