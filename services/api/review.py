"""/review: the review web page, static files of services/api/review (HTML, JavaScript
modules, CSS; nothing from a CDN). The page itself is open; it calls the JSON API with the
key the person enters (`Authorization: Bearer`, kept in the browser's session storage)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

REVIEW_URL = "/review"
REVIEW_DIR = Path(__file__).resolve().parent / "review"


def is_review_path(path: str) -> bool:
    """The page and its assets: open without a key (they hold no data)."""
    if path in (REVIEW_URL, REVIEW_URL + "/"):
        return True
    return path.startswith(REVIEW_URL + "/assets/") and ".." not in path


def install_review(app: FastAPI) -> None:
    """Serve the page at /review and its files at /review/assets."""

    @app.get(REVIEW_URL, include_in_schema=False)
    @app.get(REVIEW_URL + "/", include_in_schema=False)
    def review_page() -> FileResponse:
        return FileResponse(REVIEW_DIR / "index.html", headers={"cache-control": "no-cache"})

    app.mount(REVIEW_URL + "/assets", StaticFiles(directory=REVIEW_DIR), name="review-assets")
