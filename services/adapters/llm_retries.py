"""Retries of the LLM adapter's requests (services/adapters/llm.py), and openai's errors as
`pipelines.errors`.

Connection errors, timeouts, 408/409/429 and 5xx become `LlmUnavailable` and are retried
with exponential backoff and jitter (services/adapters/retry.py); any other HTTP error is
`LlmRequestRejected`, raised at once.

Timeouts follow the model's measured speed (services/adapters/llm_speed.py): each request
waits what its prompt and `max_tokens` should take at the speed measured so far, times a
safety factor, within a floor and a ceiling; a request that timed out is retried with
twice the time (the estimate slowed by what it waited), never with the same timeout. A
timeout at the ceiling raises `LlmTimeout` (the request is too big: the caller splits the
work); one below it, when no retry is left, `LlmUnavailable` (a job waits and retries).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

import httpx
import openai

from pipelines.errors import DocsightError, LlmRequestRejected, LlmTimeout, LlmUnavailable
from services.adapters.llm_speed import Throughput, TimeoutPolicy
from services.adapters.retry import Backoff, with_retries

T = TypeVar("T")
_RETRY_STATUS = {408, 409, 429}


def retry_request(
    attempt: Callable[[float], T],
    size: tuple[int, int],
    *,
    policy: TimeoutPolicy,
    speed: Throughput,
    backoff: Backoff,
    where: str,
    log: logging.Logger,
) -> T:
    """`attempt(timeout_s)` for a request of `size` (prompt tokens, max tokens) to the LLM at
    `where`, with bounded retries (each logged on `log`); after a timeout the next attempt
    gets twice the time, and none is made when the timeout was already the ceiling."""
    timeouts = 0

    def once() -> T:
        nonlocal timeouts
        timeout_s = policy.timeout_s(speed, *size, timeouts)
        started = time.perf_counter()
        try:
            return attempt(timeout_s)
        except openai.OpenAIError as exc:
            error = convert_error(exc, where, waited_s=timeout_s or policy.ceiling_s)
            if isinstance(error, LlmTimeout):
                speed.timed_out(
                    prompt_tokens=size[0],
                    output_tokens=size[1],
                    waited_s=time.perf_counter() - started,
                )
                timeouts += 1
                if timeout_s >= policy.ceiling_s:
                    raise error from exc  # too big for the longest wait: split it
                # Below the ceiling the model is slow now, not the request too big: the
                # caller (a job) retries later, with the slower estimate's longer wait.
                error = LlmUnavailable(str(error))
            raise error from exc

    return with_retries(
        once,
        backoff,
        retryable=_worth_retrying,
        log=log,
        what="LLM request",
    )


def _worth_retrying(exc: Exception) -> bool:
    """An openai error converted to `LlmUnavailable` (a timeout at the ceiling is not)."""
    return (
        isinstance(exc, LlmUnavailable)
        and not isinstance(exc, LlmTimeout)
        and isinstance(exc.__cause__, openai.OpenAIError)
    )


def convert_error(
    exc: openai.OpenAIError,
    where: str,
    *,
    waited_s: float,
    mid_stream: bool = False,
) -> DocsightError:
    """`exc` of a request to the LLM at `where` (its base URL) that waited `waited_s`."""
    if isinstance(exc, openai.APITimeoutError):
        if isinstance(exc.__cause__, httpx.ConnectTimeout):
            return LlmUnavailable(f"no LLM reachable at {where} (connect timed out)")
        return LlmTimeout(f"the LLM at {where} did not answer within {round(waited_s, 2)}s")
    if isinstance(exc, openai.APIConnectionError):
        broke = "the connection to the LLM broke mid-answer" if mid_stream else None
        return LlmUnavailable(broke or f"no LLM reachable at {where}")
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if status in _RETRY_STATUS or status >= 500:
            return LlmUnavailable(f"the LLM at {where} is unavailable (HTTP {status})")
        return LlmRequestRejected(
            f"the LLM at {where} rejected the request (HTTP {status}): {exc.message}"
        )
    return LlmUnavailable(f"the LLM at {where} failed: {exc}")
