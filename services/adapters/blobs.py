"""Uploaded files on a local folder, keyed by document id (never by the client's file name)."""

from __future__ import annotations

import errno
import logging
import os
import re
import tempfile
import time
from pathlib import Path

from pipelines.errors import BackendUnavailable, NotFound, StorageFull

_KEY = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_TEMP = ".upload-"
STALE_TEMP_S = 3600.0
"""A temporary upload file untouched this long was left by a process that died mid-write
(a live write touches its file every few seconds at most); younger ones may belong to
another process sharing the folder and are left alone."""
log = logging.getLogger(__name__)


class FileBlobStore:
    def __init__(self, root: Path, stale_temp_s: float = STALE_TEMP_S) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.remove_stale_temps(stale_temp_s)

    def remove_stale_temps(self, older_than_s: float = STALE_TEMP_S) -> int:
        """Delete the temporary files of writes that never finished (a process killed
        mid-upload); returns how many."""
        cutoff = time.time() - older_than_s
        removed = 0
        for tmp in self.root.glob(f"*/{_TEMP}*"):
            try:
                if tmp.stat().st_mtime < cutoff:
                    tmp.unlink()
                    removed += 1
            except FileNotFoundError:
                continue  # another process removed or renamed it meanwhile
        if removed:
            log.warning("removed %d unfinished upload file(s) from %s", removed, self.root)
        return removed

    def _path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"invalid blob key {key!r}")
        return self.root / key[:2] / f"{key}.pdf"

    def put(self, key: str, data: bytes) -> None:
        """Write to a temporary file, fsync, then rename: never a half-written blob. A full
        disk raises `StorageFull`, another write error `BackendUnavailable`; either way the
        temporary file is removed."""
        path = self._path(key)
        tmp: str | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_TEMP)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            self._discard(tmp)
            if exc.errno in _FULL:
                raise StorageFull(
                    f"no space left to store the upload ({len(data):,} bytes): "
                    "the file store is full; nothing was kept"
                ) from exc
            raise BackendUnavailable(f"the file store cannot write: {exc}") from exc
        except BaseException:
            self._discard(tmp)
            raise

    @staticmethod
    def _discard(tmp: str | None) -> None:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as exc:
            raise NotFound(f"no stored file for document {key}") from exc

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)
