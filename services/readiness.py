"""Readiness of each component, as (ok, detail)."""

from __future__ import annotations

from services.container import Container
from services.runtime import Runtime


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
    return checks
