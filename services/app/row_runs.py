"""One run of a row a worker computes (an analysis job, a comparison): the row is claimed,
the work done, and the row left `done`, `waiting` (a backend down: the caller's task is
retried) or `failed`. Shared by `services.app.jobs` and `services.app.comparisons`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipelines.errors import BackendUnavailable, DocsightError
from pipelines.models import ACTIVE_JOB_STATUSES, JobStatus

J = JobStatus


Transition = Callable[..., bool]
"""A store's `transition(row_id, from_status, to_status, **fields)`: True if moved."""


def run_row(
    transition: Transition,
    row_id: str,
    attempts: int,
    max_attempts: int,
    compute: Callable[[], dict[str, Any]],
    fail: Callable[[Exception], None],
) -> bool:
    """Claim the row (its `attempts` so far, counted in the row) and store what `compute`
    returns as its `done` fields. False when it was not active (nothing run). A
    `BackendUnavailable` leaves it `waiting` and is raised for a retry, unless the row has
    used up `max_attempts` (0: no limit), when `fail` is called instead; another
    `DocsightError` calls `fail`; any other exception calls `fail` and is raised."""
    if not transition(row_id, ACTIVE_JOB_STATUSES, J.RUNNING, attempts=attempts + 1):
        return False
    try:
        done = compute()
    except BackendUnavailable as exc:
        if 0 < max_attempts <= attempts + 1:
            fail(exc)
            return True
        transition(row_id, [J.RUNNING], J.WAITING, error_code=exc.code, reason=f"will retry: {exc}")
        raise
    except DocsightError as exc:
        fail(exc)
        return True
    except Exception as exc:
        fail(exc)
        raise
    transition(row_id, [J.RUNNING], J.DONE, **done)
    return True
