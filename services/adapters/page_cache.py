"""Files derived from documents' pages (rendered PNGs, OCR word boxes) in a local folder.

Names are `<document id>/<file>`; a write goes to a temporary file renamed into place, so a
reader never sees half a file. A full or read-only disk only loses the cache entry.

The folder is bounded (`max_bytes`): a read marks its file used (its mtime), and a write
that takes the folder past the bound removes the least recently used files until it is
under 90% of it. The size is counted from the disk at the first write, again after every
tenth of the bound written, and before anything is removed: processes sharing the folder
(API replicas) see each other's files within that tenth. A file removed under a reader is
a miss, rendered again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import tempfile
import threading
from pathlib import Path

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}/[A-Za-z0-9_.-]{1,64}$")
log = logging.getLogger(__name__)
LOW_WATER = 0.9
"""An eviction stops once the folder is under this share of `max_bytes`."""


class FilePageCache:
    def __init__(self, root: Path, max_bytes: int | None = None) -> None:
        """`max_bytes`: the folder's bound (None or 0: none)."""
        self.root = root
        self.max_bytes = max_bytes or None
        self._lock = threading.Lock()
        self._size: int | None = None  # this process's estimate; None: not counted yet
        self._since_count = 0  # bytes this process wrote since the folder was counted

    def path(self, name: str) -> Path:
        if not _NAME.match(name) or ".." in name:
            raise ValueError(f"invalid page cache name {name!r}")
        return self.root / name

    def read(self, name: str) -> bytes | None:
        path = self.path(name)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        if self.max_bytes is not None:
            with contextlib.suppress(OSError):
                os.utime(path)  # used now: the last to go
        return data

    def write(self, name: str, data: bytes) -> None:
        path = self.path(name)
        tmp: str | None = None
        written = False
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
            tmp = None
            written = True
        except OSError as exc:
            log.warning("page cache: cannot write %s: %s", name, exc)
        finally:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
        if written and self.max_bytes is not None:
            self._grew(len(data))

    def _grew(self, added: int) -> None:
        bound = self.max_bytes or 0
        with self._lock:
            self._since_count += added
            if self._size is None or self._since_count > bound // 10:
                self._size = sum(size for _, size, _ in self._files())
                self._since_count = 0
            else:
                self._size += added
            if self._size > bound:
                self._size = self._evict(int(bound * LOW_WATER))

    def _files(self) -> list[tuple[float, int, Path]]:
        """(mtime, size, path) of every cached file, from the disk."""
        found = []
        for path in self.root.glob("*/*"):
            try:
                stat = path.stat()
            except OSError:  # removed meanwhile
                continue
            if not path.name.startswith(".tmp-"):
                found.append((stat.st_mtime, stat.st_size, path))
        return found

    def _evict(self, target: int) -> int:
        """Remove the least recently used files until the folder holds at most `target`
        bytes; the size left."""
        files = sorted(self._files(), key=lambda item: item[0])
        size = sum(item[1] for item in files)
        removed = 0
        for _, bytes_, path in files:
            if size <= target:
                break
            try:
                path.unlink()
            except OSError:
                continue
            size -= bytes_
            removed += 1
            with contextlib.suppress(OSError):
                path.parent.rmdir()  # the document's last file: its folder goes too
        log.info("page cache: removed %d least recently used files, %d bytes left", removed, size)
        return size

    def forget(self, document_id: str) -> None:
        """Remove every file of the document."""
        shutil.rmtree(self.path(f"{document_id}/x").parent, ignore_errors=True)
