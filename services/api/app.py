"""create_app(settings): the FastAPI application, its lifespan and its routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.api.auth import OPEN_PATHS, ApiKeyMiddleware
from services.api.docs import install_docs
from services.api.errors import install_error_handlers
from services.api.limits import BodyLimitMiddleware
from services.api.review import install_review
from services.api.routes import analysis, documents, health, jobs, metrics, reindex, search, status
from services.api.routes import comparisons as comparison_routes
from services.api.routes import diffs as diff_routes
from services.api.routes import obligations as obligation_routes
from services.api.routes import pages as page_routes
from services.api.routes import reports as report_routes
from services.runtime import processes as runtime
from services.runtime.logs import RequestIdMiddleware
from services.runtime.readiness import LlmProbe
from services.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        container, running = runtime.start(settings)
        app.state.container = container
        app.state.runtime = running
        key = settings.llm.api_key
        app.state.llm_probe = LlmProbe(
            container.llm,  # /ready asks the LLM every 10 s at most
            api_key=key.get_secret_value() if key else None,
        )
        try:
            yield
        finally:
            running.stop()
            container.close()

    app = FastAPI(
        title="docsight",
        version="0.1.0",
        description="Upload contracts and annual reports; search them with page citations.",
        lifespan=lifespan,
        docs_url=None,  # served offline by install_docs
        redoc_url=None,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware)  # inside ApiKeyMiddleware: knows the tenant
    app.add_middleware(ApiKeyMiddleware)  # inside RequestIdMiddleware: a 401 has its id too
    app.add_middleware(RequestIdMiddleware)
    app.include_router(health.router)
    app.include_router(documents.router)
    app.include_router(search.router)
    app.include_router(analysis.router)
    app.include_router(jobs.router)
    app.include_router(metrics.router)
    app.include_router(report_routes.router)
    app.include_router(status.router)
    app.include_router(reindex.router)
    app.include_router(page_routes.router)
    app.include_router(comparison_routes.router)
    app.include_router(diff_routes.router)
    app.include_router(obligation_routes.router)
    install_docs(app, open_paths=OPEN_PATHS)
    install_review(app)
    return app
