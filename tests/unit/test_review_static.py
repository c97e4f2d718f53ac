"""The review page without a server: /review and its three files are served open (they hold
no data), reference nothing off the server, and opening them opens nothing else."""

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
