"""Files derived from documents' pages (rendered PNGs, OCR word boxes) in a local folder.

Names are `<document id>/<file>`; a write goes to a temporary file renamed into place, so a
reader never sees half a file. A full or read-only disk only loses the cache entry.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}/[A-Za-z0-9_.-]{1,64}$")
log = logging.getLogger(__name__)


class FilePageCache:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, name: str) -> Path:
        if not _NAME.match(name) or ".." in name:
            raise ValueError(f"invalid page cache name {name!r}")
        return self.root / name

    def read(self, name: str) -> bytes | None:
        try:
            return self.path(name).read_bytes()
        except FileNotFoundError:
            return None

    def write(self, name: str, data: bytes) -> None:
        path = self.path(name)
        tmp: str | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
            tmp = None
        except OSError as exc:
            log.warning("page cache: cannot write %s: %s", name, exc)
        finally:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)

    def forget(self, document_id: str) -> None:
        """Remove every file of the document."""
        shutil.rmtree(self.path(f"{document_id}/x").parent, ignore_errors=True)
