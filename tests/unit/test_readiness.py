"""GET /ready: the LLM is asked for its model list (never a completion) at most once every
few seconds, and the broker connection it opens logs no kombu warning ("No hostname was
supplied") per request."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.adapters.llm import OpenAiChatModel
from services.api.routes import health
from services.runtime.llm import LlmHandle, budget_for
from services.runtime.processes import Runtime
from services.runtime.readiness import LlmProbe
from services.settings import LlmSettings, Settings
from workers.celery_app import create_celery


class ModelServer(ThreadingHTTPServer):
    """Answers GET /v1/models; records every request's method, path and bearer token."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                server.requests.append(("GET", self.path, self.headers.get("Authorization")))
                body = b'{"object": "list", "data": [{"id": "m"}]}'
                self.send_response(200 if self.path == "/v1/models" else 404)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:  # noqa: N802
                server.requests.append(("POST", self.path, None))
                self.send_response(500)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


@pytest.fixture
def model_server() -> Iterator[ModelServer]:
    server = ModelServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def handle(base_url: str) -> LlmHandle:
    return LlmHandle(OpenAiChatModel(base_url, "m"), budget_for(LlmSettings(), local=False))


def test_llm_probe_asks_the_model_list_once_per_ttl(model_server: ModelServer) -> None:
    now = [100.0]
    probe = LlmProbe(
        handle(model_server.base_url), api_key="secret", ttl_s=10, clock=lambda: now[0]
    )
    assert probe() == (True, f"m at {model_server.base_url}")
    for _ in range(5):
        now[0] += 1.5
        assert probe()[0]
    assert model_server.requests == [("GET", "/v1/models", "Bearer secret")]
    now[0] += 10
    assert probe()[0]
    assert len(model_server.requests) == 2
    assert all(method == "GET" for method, _, _ in model_server.requests)  # no completion


def test_llm_probe_reports_an_unreachable_server_and_a_missing_model() -> None:
    ok, detail = LlmProbe(handle("http://127.0.0.1:9/v1"))()
    assert not ok
    assert "no LLM reachable at http://127.0.0.1:9/v1" in detail
    missing = LlmHandle(None, budget_for(LlmSettings(), local=True), problem="did not start")
    assert LlmProbe(missing)() == (False, "did not start")


def test_ready_requests_log_no_warning_and_ask_the_llm_once(
    tmp_path: Path,
    model_server: ModelServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = Settings(data_dir=tmp_path)
    celery = create_celery(settings)
    container = SimpleNamespace(
        store=SimpleNamespace(
            ping=lambda: None, engine=SimpleNamespace(dialect=SimpleNamespace(name="sqlite"))
        ),
        index=SimpleNamespace(count=lambda: 0),
        embedder=SimpleNamespace(name="hash", dimension=32),
        llm=handle(model_server.base_url),
    )
    app = FastAPI()
    app.include_router(health.router)
    app.state.container = container
    app.state.runtime = Runtime(celery, worker=SimpleNamespace(is_alive=lambda: True))
    app.state.llm_probe = LlmProbe(container.llm)
    caplog.set_level(logging.DEBUG)
    with TestClient(app) as client:
        for _ in range(3):
            response = client.get("/ready")
            assert response.status_code == 200, response.text
            assert response.json()["components"]["broker"]["ok"]
            assert response.json()["components"]["llm"]["ok"]
        with celery.producer_or_acquire() as producer:  # a task send clones a connection
            assert producer is not None
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [], [r.getMessage() for r in warnings]
    assert not any("No hostname" in r.getMessage() for r in caplog.records)
    assert len(model_server.requests) == 1
