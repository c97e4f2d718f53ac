"""Highlights and page images through a real server: rectangles of a stored sentence, PNG
renders (width honoured, cached on disk, ETag 304), another tenant's 404, 409 before ready."""

from __future__ import annotations

import json
import re
import struct
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.devset import DEVSET
from tests.integration.conftest import REPO, start_server, stop_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _small_contract() -> Path:
    rows = [json.loads(line) for line in (DEVSET / "cuad_annotations.jsonl").open()]
    paths = {DEVSET / "cuad" / row["pdf_path"] for row in rows}
    return sorted((p for p in paths if p.exists()), key=lambda p: p.stat().st_size)[0]


def _other_tenant_key(env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "services.cli.main", "keys", "create", "--tenant", "other"]
        + ["--name", "other"],
        cwd=REPO, env=env | {"COLUMNS": "200"}, capture_output=True, text=True, timeout=120,
        check=True,
    )  # fmt: skip
    return done.stdout.strip().splitlines()[-1]


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.skipif(not (DEVSET / "cuad_annotations.jsonl").exists(), reason="no dev set")
def test_highlights_and_pages(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    try:
        contract = _small_contract()
        with server.client() as client:
            r = client.post(
                "/v1/documents",
                files=[("files", (contract.name, contract.read_bytes(), "application/pdf"))],
            )
            assert r.status_code == 202, r.text
            doc = r.json()["accepted"][0]["document"]["id"]
            early = client.get(f"/v1/documents/{doc}/pages/1.png")
            assert early.status_code in (200, 409)  # 409 while it is not ready
            final = server.wait_final(client, [doc])[doc]
            assert final["status"] == "ready", final

            # a sentence of the stored text, found through search (the chunks' offsets)
            hits = client.post(
                "/v1/search", json={"query": "agreement", "limit": 5, "document_ids": [doc]}
            ).json()["hits"]
            hit = next(h for h in hits if re.search(r"[A-Za-z]{4,}.{40,}", h["text"]))
            start, end = hit["char_start"], hit["char_end"]
            r = client.get(f"/v1/documents/{doc}/highlights", params={"start": start, "end": end})
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["document_id"] == doc
            assert body["located"] is True
            assert body["start"] == start
            assert body["end"] <= end
            assert body["boxes"]
            assert all(b["rects"] for b in body["boxes"])
            for box in body["boxes"]:
                assert 1 <= box["page"] <= final["progress"]["pages_total"]
                for x0, y0, x1, y1 in box["rects"]:
                    assert 0 <= x0 < x1 <= box["width"] + 1
                    assert 0 <= y0 < y1 <= box["height"] + 1

            nowhere = client.get(f"/v1/documents/{doc}/highlights", params={"start": 0, "end": 0})
            assert nowhere.json()["located"] is False
            assert nowhere.json()["boxes"] == []

            png = client.get(f"/v1/documents/{doc}/pages/1.png", params={"width": 640})
            assert png.status_code == 200, png.text
            assert png.headers["content-type"] == "image/png"
            assert _png_size(png.content)[0] == 640
            assert "max-age" in png.headers["cache-control"]
            cached = tmp_path / "pages" / doc / "page-1-w640.png"
            assert cached.read_bytes() == png.content
            again = client.get(
                f"/v1/documents/{doc}/pages/1.png",
                params={"width": 640},
                headers={"If-None-Match": png.headers["etag"]},
            )
            assert again.status_code == 304
            assert not again.content
            default = client.get(f"/v1/documents/{doc}/pages/1.png")
            assert _png_size(default.content)[0] == 1000
            last = final["progress"]["pages_total"]
            assert client.get(f"/v1/documents/{doc}/pages/{last + 1}.png").status_code == 404
            assert client.get(f"/v1/documents/{doc}/pages/0.png").status_code == 404
            too_wide = client.get(f"/v1/documents/{doc}/pages/1.png", params={"width": 5000})
            assert too_wide.status_code == 422

        other = httpx.Client(
            base_url=server.url,
            timeout=60,
            headers={"Authorization": f"Bearer {_other_tenant_key(server.env)}"},
        )
        with other:
            assert other.get(f"/v1/documents/{doc}/pages/1.png").status_code == 404
            r = other.get(f"/v1/documents/{doc}/highlights", params={"start": start, "end": end})
            assert r.status_code == 404
            assert "rects" not in r.text
        with server.client() as client:  # deleting the document removes its page files
            assert client.delete(f"/v1/documents/{doc}").status_code == 204
            assert not (tmp_path / "pages" / doc).exists()
    finally:
        stop_server(server)
