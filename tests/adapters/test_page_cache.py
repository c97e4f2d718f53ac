"""The page cache keeps its folder under its bound, removing the least recently used files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from services.adapters.page_cache import FilePageCache


def _size(root: Path) -> int:
    return sum(path.stat().st_size for path in root.glob("*/*"))


def _age(cache: FilePageCache, name: str, mtime: float) -> None:
    os.utime(cache.path(name), (mtime, mtime))


def test_the_folder_stays_under_its_bound(tmp_path: Path) -> None:
    cache = FilePageCache(tmp_path, max_bytes=1000)
    for n in range(12):
        cache.write(f"doc{n % 3}/page-{n}.png", bytes(300))
        assert _size(tmp_path) <= 1000
    assert cache.read("doc2/page-11.png") == bytes(300)  # the newest stays
    assert cache.read("doc0/page-0.png") is None  # the oldest went


def test_a_read_file_outlives_older_unread_ones(tmp_path: Path) -> None:
    cache = FilePageCache(tmp_path, max_bytes=1000)
    for n, name in enumerate(("a/1.png", "b/1.png", "c/1.png")):
        cache.write(name, bytes(300))
        _age(cache, name, 1_000_000 + n)  # written in this order, long ago
    assert cache.read("a/1.png") == bytes(300)  # the oldest, used now
    cache.write("d/1.png", bytes(300))  # 1,200 bytes: down to 900
    assert cache.read("b/1.png") is None
    assert not (tmp_path / "b").exists()  # its folder emptied and went
    for name in ("a/1.png", "c/1.png", "d/1.png"):
        assert cache.read(name) == bytes(300), name


def test_files_another_process_wrote_count(tmp_path: Path) -> None:
    other = FilePageCache(tmp_path, max_bytes=1000)
    other.write("x/1.png", bytes(800))
    _age(other, "x/1.png", 1_000_000)
    cache = FilePageCache(tmp_path, max_bytes=1000)
    cache.write("y/1.png", bytes(300))  # counted from the disk: 1,100
    assert cache.read("x/1.png") is None
    assert cache.read("y/1.png") == bytes(300)


def test_no_bound_removes_nothing(tmp_path: Path) -> None:
    cache = FilePageCache(tmp_path)
    for n in range(10):
        cache.write(f"doc/page-{n}.png", bytes(1000))
    assert _size(tmp_path) == 10_000


def test_a_failed_write_loses_only_its_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = FilePageCache(tmp_path, max_bytes=1000)
    cache.write("doc/page-1.png", bytes(800))

    def disk_full(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    cache.write("doc/page-2.png", bytes(800))  # lost; the cache goes on
    monkeypatch.undo()
    assert cache.read("doc/page-1.png") == bytes(800)
    assert cache.read("doc/page-2.png") is None
    assert [p.name for p in (tmp_path / "doc").iterdir()] == ["page-1.png"]  # no temp file
