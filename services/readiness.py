"""Readiness of each component, as (ok, detail)."""

from __future__ import annotations

import httpx

from services.container import Container
from services.runtime import Runtime

OPTIONAL = frozenset({"llm"})
"""Reported, but not needed to be ready: ingestion and search work without the LLM."""


def check_components(container: Container, runtime: Runtime) -> dict[str, tuple[bool, str]]:
    checks: dict[str, tuple[bool, str]] = {}
    try:
        container.store.ping()
        checks["store"] = (True, container.store.engine.dialect.name)
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        checks["store"] = (False, str(exc))
    try:
        checks["index"] = (
            True,
            f"{type(container.index).__name__}: {container.index.count()} chunks",
        )
    except Exception as exc:  # noqa: BLE001
        checks["index"] = (False, str(exc))
    embedder = container.embedder
    checks["embedder"] = (True, f"{embedder.name} ({embedder.dimension} dims)")
    try:
        with runtime.celery.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            checks["broker"] = (True, conn.as_uri())
    except Exception as exc:  # noqa: BLE001
        checks["broker"] = (False, str(exc))
    if runtime.worker is not None:
        alive = runtime.worker.is_alive()
        checks["worker"] = (alive, "embedded worker " + ("running" if alive else "stopped"))
    else:
        replies = runtime.celery.control.ping(timeout=1.0)
        checks["worker"] = (bool(replies), f"{len(replies)} worker(s) answered")
    checks["llm"] = _check_llm(container)
    return checks


def _check_llm(container: Container) -> tuple[bool, str]:
    model = container.llm.model
    if model is None:
        return False, container.llm.problem or "no LLM configured"
    try:
        httpx.get(f"{model.base_url}/models", timeout=2.0).raise_for_status()
    except httpx.HTTPError as exc:
        return False, f"no LLM reachable at {model.base_url} ({type(exc).__name__})"
    return True, f"{model.name} at {model.base_url}"
