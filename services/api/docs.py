"""The API docs, offline: /docs (Swagger UI) and /redoc (ReDoc) load their scripts, styles
and icon from the installed `fastapi-offline` package, served under /docs/assets, never from
a CDN or Google Fonts (Swagger UI's online validator is off; ReDoc's script is served with
its one remote image, the "powered by" logo, pointed at the local icon). The OpenAPI schema
declares how the API key is sent (a bearer token or the X-API-Key header), so Swagger UI's
"Authorize" sends it; the open routes need none."""

from __future__ import annotations

from collections.abc import Collection
from functools import cache
from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS_URL = "/docs/assets"
ASSETS_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"
REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
SECURITY_SCHEMES: dict[str, dict[str, str]] = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "Authorization: Bearer <key> (the first key: var/api_key)",
    },
    "apiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "X-API-Key: <key>, the same key as the bearer token",
    },
}


def is_docs_path(path: str) -> bool:
    """The docs pages, the schema and their assets: open without a key."""
    return path in DOCS_PATHS or path.startswith(ASSETS_URL + "/")


def install_docs(app: FastAPI, open_paths: Collection[str]) -> None:
    """Serve /docs, /redoc and their assets from the package; create the app with
    docs_url=None and redoc_url=None (FastAPI's own pages load them from a CDN). The
    schema's operations need a key but those of `open_paths`."""
    title = app.title

    @app.get(f"{ASSETS_URL}/redoc.offline.js", include_in_schema=False)  # before the mount
    def redoc_script() -> Response:
        return Response(
            _redoc_offline_js(),
            media_type="text/javascript",
            headers={"cache-control": "public, max-age=86400"},
        )

    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{title} - Swagger UI",
            oauth2_redirect_url="/docs/oauth2-redirect",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
            swagger_ui_parameters={"persistAuthorization": True, "validatorUrl": None},
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url="/openapi.json",
            title=f"{title} - ReDoc",
            redoc_js_url=f"{ASSETS_URL}/redoc.offline.js",
            redoc_favicon_url=f"{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = with_security(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                ),
                open_paths,
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override


@cache
def _redoc_offline_js() -> bytes:
    """The package's redoc.standalone.js, its remote logo replaced by the local icon."""
    script = (ASSETS_DIR / "redoc.standalone.js").read_bytes()
    return script.replace(REDOC_LOGO, f"{ASSETS_URL}/favicon.png".encode())


def with_security(schema: dict[str, Any], open_paths: Collection[str]) -> dict[str, Any]:
    """The schema with the API-key schemes, required by every operation (either one) but
    those of `open_paths`."""
    schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
    schema["security"] = [{name: []} for name in SECURITY_SCHEMES]
    for path in open_paths:
        for operation in schema.get("paths", {}).get(path, {}).values():
            operation["security"] = []
    return schema
