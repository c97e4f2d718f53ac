"""Long polls that hold no worker thread.

`?wait=S` on a job, a summary/risk request or a report build waits for work done by
another process (a Celery worker), so it polls the store. It does so from an async route:
between two reads it awaits `asyncio.sleep` (no thread held), and each read runs in the
thread pool for the few milliseconds it takes. Two hundred waiting requests therefore
leave the pool to the key check, `/health` and every other route. Reads back off from
`FIRST_POLL_S` to `MAX_POLL_S`, so many waits cost the store a few reads a second each.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

T = TypeVar("T")
FIRST_POLL_S = 0.2
MAX_POLL_S = 1.0


async def poll_until(read: Callable[[], T], finished: Callable[[T], bool], timeout_s: float) -> T:
    """`read()` until `finished` says so or `timeout_s` passed; the last value read."""
    deadline = time.monotonic() + timeout_s
    value = await run_in_threadpool(read)
    delay = FIRST_POLL_S
    while not finished(value):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        await asyncio.sleep(min(delay, left))
        delay = min(delay * 1.5, MAX_POLL_S)
        value = await run_in_threadpool(read)
    return value
