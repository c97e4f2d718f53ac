"""/docs and /redoc as a person sees them with no network: Debian's chromium (headless, driven
by Playwright through executable_path; no browser is downloaded), every request that is not
for the server on 127.0.0.1 refused and recorded. Swagger UI shows the operations and the
Authorize button, ReDoc the API's operations, and nothing left loopback."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from services.api.app import create_app
from services.settings import Settings
from tests.servers import free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (`make system-deps`)"),
]


@pytest.fixture(scope="module")
def docs_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The API app on loopback, lifespan off: the docs need no worker, store or model."""
    port = free_port()
    app = create_app(Settings(data_dir=tmp_path_factory.mktemp("docs")))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_config=None)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the docs server did not start"
        time.sleep(0.05)
    assert httpx.get(f"{url}/docs").status_code == 200
    yield url
    server.should_exit = True
    thread.join(timeout=10)


def _visit(
    url: str,
    path: str,
    expect: list[str],
    shot: Path,
    act: Callable[[playwright_api.Page], None] | None = None,
) -> tuple[str, list[str]]:
    """The page's visible text once every `expect` text shows (and `act` has run), and the
    requests that tried to leave loopback (refused)."""
    outside: list[str] = []
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            # No DNS either: a host name other than loopback cannot even be resolved.
            args=[
                "--no-sandbox",
                "--disable-dev-shm-usage",
                "--disable-gpu",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            ],
        )
        try:
            page = browser.new_page()

            def route(r: playwright_api.Route) -> None:
                request_url = r.request.url
                if request_url.startswith((url + "/", "data:", "blob:")):
                    r.continue_()
                else:
                    outside.append(request_url)
                    r.abort()

            page.route("**/*", route)
            page.on("websocket", lambda ws: outside.append(ws.url))
            page.goto(url + path, wait_until="networkidle", timeout=60_000)
            for text in expect:
                page.get_by_text(text, exact=False).first.wait_for(state="visible", timeout=60_000)
            if act is not None:
                act(page)
            page.screenshot(path=str(shot), full_page=False)
            text = page.inner_text("body")
        finally:
            browser.close()
    return text, outside


def test_swagger_ui_renders_the_operations_offline(docs_url: str, tmp_path: Path) -> None:
    text, outside = _visit(docs_url, "/docs", ["/v1/search", "Authorize"], tmp_path / "swagger.png")
    assert outside == []
    for operation in ("/v1/documents", "/v1/search", "/v1/jobs/{job_id}", "/health"):
        assert operation in text, operation
    assert "Authorize" in text
    assert (tmp_path / "swagger.png").stat().st_size > 10_000


def test_authorize_sends_the_key_with_try_it_out(docs_url: str, tmp_path: Path) -> None:
    sent: dict[str, str] = {}

    def authorize_and_try(page: playwright_api.Page) -> None:
        page.get_by_role("button", name="Authorize").first.click()
        bearer = page.locator(".auth-container").first
        bearer.locator("input").first.fill("ds_test-key")
        bearer.locator("button.authorize").click()  # "Apply credentials"
        page.locator(".auth-btn-wrapper button.btn-done").first.click()  # Close
        page.locator(".opblock-summary-path", has_text="/v1/documents").nth(1).click()  # GET
        page.get_by_role("button", name="Try it out").click()
        with page.expect_request(lambda r: r.url.endswith("/v1/documents")) as request:
            page.get_by_role("button", name="Execute").click()
        sent.update(request.value.headers)

    _, outside = _visit(
        docs_url, "/docs", ["/v1/documents"], tmp_path / "authorize.png", act=authorize_and_try
    )
    assert outside == []
    assert sent.get("authorization") == "Bearer ds_test-key"


def test_redoc_renders_the_operations_offline(docs_url: str, tmp_path: Path) -> None:
    text, outside = _visit(docs_url, "/redoc", ["docsight", "/v1/search"], tmp_path / "redoc.png")
    assert outside == []
    assert "/v1/search" in text
    assert "X-API-Key" in text or "bearer" in text.lower()  # the security schemes
