"""Readiness of each component, as (ok, detail)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx

from services.runtime.composition import Container
from services.runtime.llm import LlmHandle
from services.runtime.processes import Runtime

OPTIONAL = frozenset({"llm"})
"""Reported, but not needed to be ready: ingestion and search work without the LLM."""


class LlmProbe:
    """Whether the LLM server answers, asked of its model list (`GET /models`, no
    completion) at most once every `ttl_s` seconds: a monitor polling /ready every second
    costs the model server one cheap request every `ttl_s`."""

    def __init__(
        self,
        handle: LlmHandle,
        *,
        api_key: str | None = None,
        ttl_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.handle = handle
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.ttl_s = ttl_s
        self.clock = clock
        self._lock = threading.Lock()
        self._checked: tuple[float, tuple[bool, str]] | None = None

    def __call__(self) -> tuple[bool, str]:
        with self._lock:
            now = self.clock()
            if self._checked is None or now - self._checked[0] >= self.ttl_s:
                self._checked = (now, self._check())
            return self._checked[1]

    def _check(self) -> tuple[bool, str]:
        model = self.handle.model
        if model is None:
            return False, self.handle.problem or "no LLM configured"
        try:
            httpx.get(
                f"{model.base_url}/models", headers=self.headers, timeout=2.0
            ).raise_for_status()
        except httpx.HTTPError as exc:
            return False, f"no LLM reachable at {model.base_url} ({type(exc).__name__})"
        return True, f"{model.name} at {model.base_url}"


def check_components(
    container: Container,
    runtime: Runtime,
    llm: Callable[[], tuple[bool, str]] | None = None,
) -> dict[str, tuple[bool, str]]:
    """(ok, detail) of each component; `llm` is the app's LlmProbe (a fresh one if None)."""
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
    checks["llm"] = (llm or LlmProbe(container.llm))()
    return checks
