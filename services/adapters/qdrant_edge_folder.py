"""The folder of an EdgeIndex: one owner, generations of the shard, a CURRENT pointer.

    <path>/LOCK              flock'd by the one EdgeIndex that owns the folder
    <path>/CURRENT           name of the live generation, replaced atomically after a swap
    <path>/edge_config.json  copy of the live shard's config (tools read the dimension here)
    <path>/gen-<n>/          a shard folder (edge_config.json, segments/, wal/)

A folder of the first layout (the shard's files directly in <path>) is moved into gen-0 on
open. Any other generation found on open (a copy left by a crash between copy and swap, an
old generation not yet deleted) is deleted once the folder is locked.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path
from typing import IO

from pipelines.errors import BackendUnavailable

CURRENT = "CURRENT"
LOCK = "LOCK"
CONFIG = "edge_config.json"
PREFIX = "gen-"
_MIGRATING = "gen-0.tmp"


class IndexFolder:
    """Locks `path` to this process and says which generation is live."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock: IO[bytes] | None = None

    def acquire(self) -> None:
        """Lock the folder (BackendUnavailable if another EdgeIndex holds it)."""
        self.path.mkdir(parents=True, exist_ok=True)
        handle = open(self.path / LOCK, "ab")  # noqa: SIM115  # held until release()
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            handle.close()
            raise BackendUnavailable(f"{self.path} is open in another EdgeIndex") from exc
        self._lock = handle

    def release(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the file drops the flock
            self._lock = None

    def live(self) -> Path | None:
        """The live generation after finishing an interrupted migration or swap; None if
        the folder holds no shard yet. Deletes every other generation."""
        name = self._read_current()
        if name is None:
            self._migrate()
            if (self.path / f"{PREFIX}0").is_dir():
                name = f"{PREFIX}0"
                self.point_to(self.path / name)
            elif any(entry.name.startswith(PREFIX) for entry in self.path.iterdir()):
                raise BackendUnavailable(f"{self.path}: generations but no valid {CURRENT}")
        for entry in self.path.iterdir():
            if entry.name.startswith(PREFIX) and entry.name != name:
                shutil.rmtree(entry, ignore_errors=True)
        return None if name is None else self.path / name

    def next_generation(self) -> Path:
        """A fresh generation folder name (not created)."""
        numbers = [
            int(entry.name[len(PREFIX) :])
            for entry in self.path.iterdir()
            if entry.name.startswith(PREFIX) and entry.name[len(PREFIX) :].isdigit()
        ]
        return self.path / f"{PREFIX}{max(numbers, default=-1) + 1}"

    def point_to(self, generation: Path) -> None:
        """Make `generation` the live one, atomically and durably; copy its config up."""
        if (generation / CONFIG).exists():
            _replace(self.path / CONFIG, (generation / CONFIG).read_bytes())
        _replace(self.path / CURRENT, generation.name.encode())

    def _read_current(self) -> str | None:
        try:
            name = (self.path / CURRENT).read_text().strip()
        except FileNotFoundError:
            return None
        return name if name.startswith(PREFIX) and (self.path / name).is_dir() else None

    def _migrate(self) -> None:
        """Move a first-layout shard (files directly in the folder) into gen-0."""
        legacy = [
            entry
            for entry in self.path.iterdir()
            if entry.name not in (LOCK, CURRENT, CONFIG)
            and not entry.name.startswith(PREFIX)
            and not entry.name.endswith(".tmp")
        ]
        target = self.path / _MIGRATING
        if not legacy and not target.exists():
            return
        target.mkdir(exist_ok=True)
        for entry in legacy:
            entry.rename(target / entry.name)
        if (self.path / CONFIG).exists() and not (target / CONFIG).exists():
            shutil.copy2(self.path / CONFIG, target / CONFIG)
        target.rename(self.path / f"{PREFIX}0")


def _replace(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    try:  # best effort: the replace is done and must not be reported as failed
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError:
        pass
