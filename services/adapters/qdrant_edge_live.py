"""The shard an EdgeIndex answers from, and the swap that replaces it with an optimised copy."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import qdrant_edge as qe


class LiveShard:
    """Searches and counts share the shard (`reading`); updates are serialised by `write`
    and, once `copy_to` copied the shard, logged to be replayed on the copy; `swap` answers
    from the copy and closes the old shard once no search or count uses it."""

    def __init__(self, shard: qe.EdgeShard, folder: Path) -> None:
        self.shard = shard
        self.folder = folder
        self.write = threading.Lock()
        self._readers = threading.Condition()
        self._busy: dict[int, int] = {}  # id(shard) -> searches and counts in flight
        self._log: list[qe.UpdateOperation] | None = None

    @contextmanager
    def reading(self) -> Iterator[qe.EdgeShard]:
        """The live shard, kept open until the caller is done with it."""
        with self._readers:
            shard = self.shard
            self._busy[id(shard)] = self._busy.get(id(shard), 0) + 1
        try:
            yield shard
        finally:
            with self._readers:
                self._busy[id(shard)] -= 1
                if not self._busy[id(shard)]:
                    del self._busy[id(shard)]
                    self._readers.notify_all()

    def update(self, operation: qe.UpdateOperation) -> None:
        with self.write:
            self.shard.update(operation)
            if self._log is not None:
                self._log.append(operation)

    def copy_to(self, target: Path) -> None:
        """Flush the shard and copy its folder to `target`; log updates from now on. The
        caller holds `write`. Copied, not hard-linked: the engine rewrites files in place."""
        self.shard.flush()
        try:
            shutil.copytree(self.folder, target)
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        self._log = []

    def drop_log(self) -> None:
        """The copy will not be swapped in: stop logging."""
        with self.write:
            self._log = None

    def swap(self, fresh: qe.EdgeShard, folder: Path, commit: Callable[[], None]) -> int:
        """Replay the logged updates on `fresh` (the optimised copy, in `folder`), flush it,
        `commit()` (point CURRENT at it) and answer from it; then close the old shard once
        unused and delete its folder. Returns the number of updates replayed."""
        with self.write:
            log = self._log or []
            try:
                for operation in log:
                    fresh.update(operation)
                fresh.flush()
                commit()
            except BaseException:
                fresh.close()
                raise
            with self._readers:
                old, self.shard = self.shard, fresh
            old_folder, self.folder, self._log = self.folder, folder, None
        self.retire(old)
        shutil.rmtree(old_folder, ignore_errors=True)
        return len(log)

    def retire(self, shard: qe.EdgeShard) -> None:
        """Close `shard` once no search or count uses it."""
        with self._readers:
            self._readers.wait_for(lambda: id(shard) not in self._busy)
        shard.close()
