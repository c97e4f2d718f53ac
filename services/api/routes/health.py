"""Liveness and readiness, each component reported."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.api.schemas import ComponentStatus, Readiness
from services.runtime.readiness import OPTIONAL, check_components

router = APIRouter(tags=["health"])


@router.get("/health")
def health() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/ready", response_model=Readiness, responses={503: {"model": Readiness}})
def ready(request: Request) -> JSONResponse:
    """Every component reachable: store, index, embedder, broker, worker (and the LLM,
    which is reported but not required: ingestion and search work without it)."""
    state = request.app.state
    checks = check_components(state.container, state.runtime, getattr(state, "llm_probe", None))
    body = Readiness(
        ready=all(ok for name, (ok, _) in checks.items() if name not in OPTIONAL),
        components={
            name: ComponentStatus(ok=ok, detail=detail) for name, (ok, detail) in checks.items()
        },
    )
    return JSONResponse(status_code=200 if body.ready else 503, content=body.model_dump())
