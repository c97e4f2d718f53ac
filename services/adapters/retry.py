"""Bounded retries with exponential backoff and jitter, shared by the adapters that call a
remote server (the LLM in services/adapters/llm.py, the reranker in
services/adapters/reranker_http.py, the embedder in services/adapters/embedder_http.py).

Attempt `n` (counting from 0) that fails with an error worth retrying waits
`min(backoff_s * 2**n, max_backoff_s)`, scaled by a random factor in [0.5, 1), logs a
warning naming the error and the retry, and tries again; after `max_retries` retries the
last error is raised as it is. An error not worth retrying is raised at once.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from pipelines.errors import BackendUnavailable

T = TypeVar("T")


class Retryable(BackendUnavailable):
    """A failure of a JSON server worth another attempt (refused, timed out, overloaded, 5xx)."""


@dataclass(frozen=True)
class Backoff:
    """How often and how patiently to retry."""

    max_retries: int
    backoff_s: float
    max_backoff_s: float

    def delay_s(self, tries: int) -> float:
        """The wait after failed attempt `tries` (from 0), jitter included."""
        delay: float = min(self.backoff_s * 2**tries, self.max_backoff_s)
        return delay * (0.5 + random.random() / 2)


def with_retries(
    attempt: Callable[[], T],
    backoff: Backoff,
    *,
    retryable: Callable[[Exception], bool],
    log: logging.Logger,
    what: str,
) -> T:
    """`attempt()`, retried while it raises an error `retryable` accepts and retries are
    left; each retry is logged on `log` as "`what` failed (error); retry N in S s"."""
    for tries in range(backoff.max_retries + 1):
        try:
            return attempt()
        except Exception as exc:
            if not retryable(exc) or tries == backoff.max_retries:
                raise
            delay = backoff.delay_s(tries)
            log.warning("%s failed (%s); retry %d in %.2fs", what, exc, tries + 1, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")


def retried_or_unavailable(
    attempt: Callable[[], T], backoff: Backoff, *, log: logging.Logger, what: str
) -> T:
    """`attempt()`, retried while it raises `Retryable`; once retries run out, the last
    failure is raised as `BackendUnavailable` saying how many attempts were made."""
    try:
        return with_retries(
            attempt,
            backoff,
            retryable=lambda exc: isinstance(exc, Retryable),
            log=log,
            what=what,
        )
    except Retryable as exc:
        raise BackendUnavailable(
            f"{exc} (after {backoff.max_retries + 1} attempts)"
        ) from exc.__cause__


def post_json(
    client: httpx.Client, url: str, body: dict[str, Any], *, server: str, timeout_s: float
) -> httpx.Response:
    """POST `body` to `url`; a timeout or a transport failure is `Retryable`, naming
    `server` ("reranker", "embedding server")."""
    try:
        return client.post(url, json=body)
    except httpx.TimeoutException as exc:
        raise Retryable(f"the {server} at {url} did not answer within {timeout_s}s") from exc
    except httpx.TransportError as exc:
        raise Retryable(f"no {server} reachable at {url}: {exc}") from exc
