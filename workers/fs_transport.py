"""kombu's filesystem transport with atomic writes: the embedded broker.

kombu's own `_put` creates the message file in the queue folder and then writes it, while
a consumer may already have moved it away and read it empty: the JSON error that follows
stops the whole Celery worker ("Unrecoverable error"). Here a message is written under a
hidden folder and renamed into the queue (atomic on one filesystem), and a message that
still cannot be read is set aside in `unreadable/` with a log line instead of stopping
the worker.
"""

from __future__ import annotations

import logging
import os
import tempfile
import uuid
from pathlib import Path
from time import monotonic
from typing import Any

from kombu.transport import filesystem
from kombu.utils.json import dumps

log = logging.getLogger(__name__)

TRANSPORT = "workers.fs_transport:Transport"
_INCOMING = ".incoming"  # not "<stamp>_<uuid>.<queue>.msg": never taken for a message


class Channel(filesystem.Channel):
    # kombu's own Channel._put (payload) renames AbstractChannel._put's `message`
    def _put(self, queue: Any, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        incoming = Path(self.data_folder_out) / _INCOMING
        incoming.mkdir(exist_ok=True)
        with tempfile.NamedTemporaryFile("wb", dir=incoming, delete=False) as f:
            f.write(dumps(payload).encode())  # type: ignore[no-untyped-call]  # kombu untyped
        os.replace(f.name, Path(self.data_folder_out) / name)

    def _get(self, queue: Any, timeout: Any = None) -> Any:
        while True:
            try:
                return super()._get(queue)  # type: ignore[no-untyped-call]  # kombu untyped
            except ValueError as exc:  # an unreadable message (already removed): go on
                log.error("unreadable message on queue %s skipped: %s", queue, exc)


class Transport(filesystem.Transport):
    Channel = Channel
