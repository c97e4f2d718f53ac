"""GET /metrics and /v1/analysis/cache on the real routes, with AnalysisService over a scripted
model: a repeated question moves the hit counter and the hit ratio; each app has its own
registry, so two apps in one process count separately."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.adapters.analysis_cache import SqlAnalysisCache
from services.adapters.blobs import FileBlobStore
from services.adapters.embedder_fake import HashEmbedder
from services.adapters.erasure import SqlEraser
from services.adapters.index_fake import InMemoryIndex
from services.adapters.llm_fake import FakeChatModel
from services.adapters.store import SqlStore
from services.api.errors import install_error_handlers
from services.api.routes import analysis, metrics
from services.app.analysis import AnalysisService
from services.app.documents import DocumentService
from services.settings import ApiSettings, Settings
from tests.unit.analysis_support import Handle, ready, responder
from tests.unit.test_documents_service import InlineQueue, StubParser, WordCounter


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one series in Prometheus text format, or None if absent."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    found = re.search(rf"^{name}\{{{re.escape(wanted)}\}} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else None


def make_app(tmp_path: Path) -> tuple[FastAPI, DocumentService, InlineQueue]:
    tmp_path.mkdir()
    queue = InlineQueue()
    store = SqlStore(f"sqlite:///{tmp_path / 'test.db'}")
    docs = DocumentService(
        settings=Settings(data_dir=tmp_path),
        store=store,
        blobs=FileBlobStore(tmp_path / "blobs"),
        parser=StubParser(),
        counter=WordCounter(),
        embedder=HashEmbedder(32),
        index=InMemoryIndex(32),
        queue=queue,
        eraser=SqlEraser(store.engine),
    )
    queue.service = docs
    service = AnalysisService(
        store=store,
        embedder=docs.embedder,
        index=docs.index,  # type: ignore[arg-type]
        counter=docs.counter,
        llm=Handle(FakeChatModel(responder=responder, name="model-a")),
        cache=SqlAnalysisCache(store.engine),
    )
    app = FastAPI()
    # No API keys here (tests/unit/test_auth.py has them): every caller is the default tenant.
    app.state.settings = Settings(data_dir=tmp_path, api=ApiSettings(auth="none"))
    app.state.container = SimpleNamespace(analysis=service)
    install_error_handlers(app)
    app.include_router(analysis.router)
    app.include_router(metrics.router)
    return app, docs, queue


@pytest.fixture
def apps(tmp_path: Path) -> Iterator[list[tuple[FastAPI, DocumentService, InlineQueue]]]:
    built = [make_app(tmp_path / name) for name in ("a", "b")]
    yield built
    for _, docs, _ in built:
        docs.store.close()


def test_repeated_question_counts_a_hit_in_metrics(
    apps: list[tuple[FastAPI, DocumentService, InlineQueue]],
) -> None:
    (app, docs, queue), (other, _, _) = apps
    ready(docs, queue, b"liquidated damages of ten percent", tenant="default")
    with TestClient(app) as client, TestClient(other) as other_client:
        before = client.get("/metrics")
        assert before.status_code == 200
        assert before.headers["content-type"].startswith("text/plain")
        series = "docsight_analysis_cache_requests_total"
        assert sample(before.text, series, kind="answers", result="hit") == 0.0
        assert sample(before.text, "docsight_analysis_cache_hit_ratio", kind="answers") is None

        question = {"question": "What are the liquidated damages?"}
        assert client.post("/v1/questions", json=question).json()["cached"] is False
        after_miss = client.get("/metrics").text
        assert sample(after_miss, series, kind="answers", result="miss") == 1.0
        assert sample(after_miss, series, kind="answers", result="hit") == 0.0

        again = client.post("/v1/questions", json={"question": " what are the LIQUIDATED damages?"})
        assert again.json()["cached"] is True
        text = client.get("/metrics").text
        assert sample(text, series, kind="answers", result="hit") == 1.0
        assert sample(text, series, kind="answers", result="miss") == 1.0
        assert sample(text, "docsight_analysis_cache_hit_ratio", kind="answers") == 0.5
        assert sample(text, series, kind="summaries", result="hit") == 0.0

        stats = client.get("/v1/analysis/cache").json()
        assert stats["answers"] == {"hits": 1, "misses": 1, "hit_rate": 0.5}
        assert isinstance(stats["answers"]["hits"], int)  # counts stay integers in JSON
        assert stats["risks"] == {"hits": 0, "misses": 0, "hit_rate": None}

        # The second app's registry saw nothing.
        untouched = other_client.get("/metrics").text
        assert sample(untouched, series, kind="answers", result="hit") == 0.0
        assert sample(untouched, series, kind="answers", result="miss") == 0.0
