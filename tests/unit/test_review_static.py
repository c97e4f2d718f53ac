"""The review page without a server: /review and its files (the page, CSS, review.js and the
modules it imports) are served open (they hold no data), reference nothing off the server,
and opening them opens nothing else."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.api.app import create_app
from services.api.review import REVIEW_DIR, is_review_path
from services.settings import Settings


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    return TestClient(create_app(Settings(data_dir=tmp_path)))  # no lifespan: nothing starts


def test_page_and_assets_are_served_without_a_key(client: TestClient) -> None:
    page = client.get("/review")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    links = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assets = [link for link in links if link != "data:,"]  # the empty favicon
    assert sorted(assets) == ["/review/assets/review.css", "/review/assets/review.js"]
    for asset in assets:
        assert client.get(asset).status_code == 200
    assert "sessionStorage" in client.get("/review/assets/review.js").text


def test_no_file_refers_off_the_server() -> None:
    for path in REVIEW_DIR.iterdir():
        assert not re.search(r"https?://", path.read_text()), path.name


def test_only_the_page_and_its_assets_are_open(client: TestClient) -> None:
    assert not is_review_path("/review/assets/../../v1/documents")
    assert not is_review_path("/reviewer")
    assert not is_review_path("/v1/documents")
    for path in ("/review/other", "/v1/documents", "/review/assets/../../v1/documents"):
        assert client.get(path).status_code in (401, 503)  # no key, or no key service


def _imports(source: str) -> list[str]:
    return re.findall(r'^import [^;]*? from "\./([\w.-]+\.js)";', source, re.MULTILINE)


def test_modules_are_served_as_javascript_and_stay_on_the_server(client: TestClient) -> None:
    seen: set[str] = set()
    todo = ["review.js"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        response = client.get(f"/review/assets/{name}")
        assert response.status_code == 200, name
        assert response.headers["content-type"].startswith("text/javascript"), name
        assert not re.search(r"https?://|//cdn|@import", response.text), name
        todo.extend(_imports(response.text))
    assert {"core.js", "compare.js", "calendar.js", "diff.js", "worddiff.js"} <= seen
    assert set(path.name for path in REVIEW_DIR.glob("*.js")) == seen  # no module left unused


def test_views_are_in_the_navigation(client: TestClient) -> None:
    page = client.get("/review").text
    for view in ("documents", "compare", "calendar", "diff", "reports"):
        assert f'data-view="{view}"' in page
        assert f'<section id="{view}"' in page
