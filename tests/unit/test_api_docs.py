"""The API docs without a server: the OpenAPI schema declares the API-key schemes (bearer and
X-API-Key) required by every operation but the open routes; /docs and /redoc point at assets
served from the installed package (no CDN), and those are open without a key like /docs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.api.app import create_app
from services.api.auth import OPEN_PATHS
from services.settings import Settings


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    return TestClient(create_app(Settings(data_dir=tmp_path)))  # no lifespan: nothing starts


def test_schema_declares_the_api_key_security_schemes(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["bearer"]["description"],
    }
    assert schemes["apiKey"]["type"] == "apiKey"
    assert (schemes["apiKey"]["in"], schemes["apiKey"]["name"]) == ("header", "X-API-Key")
    assert schema["security"] == [{"bearer": []}, {"apiKey": []}]  # either one
    for path in ("/health", "/ready"):
        assert schema["paths"][path]["get"]["security"] == []
    assert "security" not in schema["paths"]["/v1/search"]["post"]  # the global requirement
    assert {"/docs", "/redoc"}.isdisjoint(schema["paths"])
    assert {"/health", "/ready", "/metrics"} == OPEN_PATHS


def test_docs_pages_load_their_assets_from_the_package(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        response = client.get(page)
        assert response.status_code == 200, page
        html = response.text
        assert "cdn.jsdelivr" not in html
        assert "fonts.googleapis" not in html
        sources = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert sources, html
        for source in sources:
            assert source.startswith("/docs/assets/"), source
            asset = client.get(source)  # open without a key, like /docs
            assert asset.status_code == 200, source
            assert len(asset.content) > 1000
    assert "persistAuthorization" in client.get("/docs").text
    assert '"validatorUrl": null' in client.get("/docs").text  # no swagger.io badge request
    redoc = client.get("/docs/assets/redoc.offline.js")
    assert redoc.headers["content-type"].startswith("text/javascript")
    assert b"cdn.redoc.ly" not in redoc.content
    assert b"/docs/assets/favicon.png" in redoc.content


def test_other_paths_still_need_a_key(client: TestClient) -> None:
    # Without a started key service a checked path answers 503: the key check ran.
    for path in ("/v1/documents", "/docs/assets/../v1/documents", "/docsx", "/docs/other"):
        assert client.get(path).status_code in (401, 503), path
