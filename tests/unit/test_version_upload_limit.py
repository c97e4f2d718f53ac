"""A new version's upload (POST /v1/documents/{id}/versions) has the upload body limit and
counts as an upload in flight, not the small JSON limit of other bodies."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from services.api.errors import install_error_handlers
from services.api.limits import BodyLimitMiddleware
from services.settings import Settings

KB = 1024


def test_a_version_upload_takes_a_pdf_bigger_than_the_json_limit(tmp_path: Path) -> None:
    app = FastAPI()

    @app.post("/v1/documents/{document_id}/versions")
    async def version(document_id: str, request: Request) -> dict[str, int]:
        return {"parts": len(await request.form())}

    @app.post("/v1/documents/{document_id}/other")
    async def other(document_id: str, request: Request) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware)
    app.state.settings = Settings(data_dir=tmp_path, api={"max_request_mb": 1, "max_body_kb": 4})
    client = TestClient(app)
    pdf = {"file": ("v2.pdf", b"%PDF-1.7 " + b"x" * (64 * KB))}  # over 4 KB, under 1 MB
    assert client.post("/v1/documents/abc/versions", files=pdf).status_code == 200
    assert client.post("/v1/documents/abc/other", files=pdf).status_code == 413
    huge = {"file": ("v2.pdf", b"x" * (2 * 1024 * KB))}
    assert client.post("/v1/documents/abc/versions", files=huge).status_code == 413
