"""CeleryTaskQueue: every failure of the broker client is `BackendUnavailable` (the task
that sent is retried, and a retried parse resends its document's index message)."""

from __future__ import annotations

from typing import Any

import pytest
from kombu.exceptions import OperationalError

from pipelines.errors import BackendUnavailable
from workers.queue import CeleryTaskQueue


class FailingApp:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def send_task(self, *args: Any, **kwargs: Any) -> None:
        raise self.error


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused."),
        # seen while kombu reconnects after a Redis restart (kombu/transport/redis.py)
        AttributeError("'NoneType' object has no attribute 'client'"),
    ],
)
def test_a_broker_client_failure_is_backend_unavailable(error: Exception) -> None:
    queue = CeleryTaskQueue(FailingApp(error))  # type: ignore[arg-type]
    with pytest.raises(BackendUnavailable, match="task broker"):
        queue.enqueue_index("doc-1")
