"""The disk fills up while an upload is stored: a clear 507, no half-written file, no row.

The blob folder is a real, tiny tmpfs (mounting needs root; skipped otherwise), so the
write fails with the kernel's own ENOSPC, not a simulated one.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pipelines.errors import StorageFull
from services.adapters.blobs import FileBlobStore
from tests.integration.conftest import start_server, stop_server
from tests.integration.test_api import _contracts, _upload

pytestmark = pytest.mark.integration


@contextmanager
def tiny_filesystem(folder: Path, size: str) -> Iterator[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_blob_store_on_a_full_disk_keeps_nothing(tmp_path: Path) -> None:
    with tiny_filesystem(tmp_path / "blobs", "64k") as folder:
        blobs = FileBlobStore(folder)
        blobs.put("small-one", b"%PDF-1.4 small" * 100)
        with pytest.raises(StorageFull, match="no space left"):
            blobs.put("too-big", b"x" * 200_000)
        assert [p.name for p in _files(folder)] == ["small-one.pdf"]  # no temp, no partial
        assert blobs.get("small-one") == b"%PDF-1.4 small" * 100


def test_upload_on_a_full_disk_is_507_and_leaves_no_document(tmp_path: Path) -> None:
    small, big = _contracts(1)[0], max(_contracts(25), key=lambda p: p.stat().st_size)
    assert big.stat().st_size > 128 * 1024
    with tiny_filesystem(tmp_path / "blobs", "128k") as folder:
        server = start_server(tmp_path, DOCSIGHT_LLM__BASE_URL="http://127.0.0.1:9/v1")
        try:
            with server.client() as client:
                first = _upload(client, small)
                assert first.status_code == 202, first.text
                kept = first.json()["accepted"][0]["document"]["id"]

                full = _upload(client, big)
                assert full.status_code == 507, full.text
                assert full.json()["error_code"] == "storage_full"
                assert "no space left" in full.json()["detail"]

                listed = client.get("/v1/documents").json()["documents"]
                assert [d["id"] for d in listed] == [kept]
                assert server.wait_final(client, [kept])[kept]["status"] == "ready"
            assert [p.name for p in _files(folder)] == [f"{kept}.pdf"]
        finally:
            stop_server(server)
