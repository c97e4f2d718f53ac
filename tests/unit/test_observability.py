"""Observability without servers: the scrape-time series (documents, jobs, queue depth) and
GET /v1/status after an upload and a job; task durations and task log ids through Celery's
signals; the JSON log line of a request carries its request id; queue depth counting."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import generate_latest

from services.adapters.jobs import SqlJobStore
from services.api.routes import metrics as metrics_route
from services.api.routes import status as status_route
from services.app.analysis import AnalysisService
from services.app.documents import DocumentService
from services.app.jobs import JobService
from services.runtime import logs
from services.runtime.metrics import ServiceMetrics, count_jobs_by_status
from services.settings import Settings
from tests.unit.analysis_support import ready
from tests.unit.test_documents_service import InlineQueue
from tests.unit.test_jobs import JobQueue
from tests.unit.test_metrics import sample
from workers.celery_app import ANALYSIS_QUEUE, INGEST_QUEUE, QUEUES, create_celery
from workers.context import ContextSource
from workers.metrics import QueueDepths
from workers.tasks import ANALYSIS_TASK, PARSE_TASK


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Root logger lines as the JSON formatter writes them."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield out
    root.removeHandler(handler)
    root.setLevel(level)


def lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]


def service_metrics(docs: DocumentService, settings: Settings) -> ServiceMetrics:
    engine = docs.store.engine
    return ServiceMetrics(
        documents=docs.store.count_by_status,
        jobs=lambda: count_jobs_by_status(engine),
        queues=QueueDepths(settings, QUEUES),
    )


def test_metrics_and_status_after_an_upload_and_a_job(
    tmp_path: Path,
    docs: DocumentService,
    queue: InlineQueue,
    analysis: AnalysisService,
) -> None:
    settings = Settings(data_dir=tmp_path)
    document_id = ready(docs, queue, b"This Agreement is made by the parties hereto.")
    jobs = JobService(jobs=SqlJobStore(docs.store.engine), analysis=analysis, queue=JobQueue())
    jobs.request("t1", "summary", document_id)
    queue_dir = tmp_path / "broker" / "queue"
    queue_dir.mkdir(parents=True)
    for n in range(3):
        (queue_dir / f"{n}_abc.{INGEST_QUEUE}.msg").write_text("{}")
    metrics = service_metrics(docs, settings)
    app = FastAPI()
    app.state.container = SimpleNamespace(
        analysis=SimpleNamespace(metrics=metrics), metrics=metrics, store=docs.store
    )
    app.state.settings = Settings(data_dir=tmp_path, api={"auth": "none", "default_tenant": "t1"})
    app.include_router(metrics_route.router)
    app.include_router(status_route.router)
    with TestClient(app) as client:
        text = client.get("/metrics").text
        body = client.get("/v1/status").json()
    assert sample(text, "docsight_documents", status="ready") == 1.0
    assert sample(text, "docsight_jobs", status="queued") == 1.0
    assert sample(text, "docsight_queue_depth", queue=INGEST_QUEUE) == 3.0
    assert sample(text, "docsight_queue_depth", queue=ANALYSIS_QUEUE) == 0.0
    assert body == {
        "queues": {"ingest": 3, "analysis": 0},
        "jobs": {"queued": 1},
        "documents": {"ready": 1},
    }


def test_a_source_that_fails_is_left_out_not_fatal(tmp_path: Path) -> None:
    def down() -> dict[str, int]:
        raise RuntimeError("store down")

    metrics = ServiceMetrics(documents=down, queues=lambda: {"ingest": 2})
    text = generate_latest(metrics.registry).decode()
    assert "docsight_documents" not in text
    assert sample(text, "docsight_queue_depth", queue="ingest") == 2.0
    assert metrics.status() == {"documents": None, "jobs": None, "queues": {"ingest": 2}}


def test_queue_depth_counts_message_files_per_queue(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    depths = QueueDepths(settings, QUEUES)
    assert depths() == {"ingest": 0, "analysis": 0}  # no broker folder yet
    folder = tmp_path / "broker" / "queue"
    (folder / ".incoming").mkdir(parents=True)
    (folder / ".incoming" / "tmp123").write_text("{}")  # a message being written
    for name in (
        "1_a.ingest.msg",
        "2_b.ingest.msg",
        "3_c.analysis.msg",
        "4_d.other.msg",
        "notes.txt",
        "5_e.ingest.msg.tmp",
    ):
        (folder / name).write_text("{}")
    assert depths() == {"ingest": 2, "analysis": 1}
    # Messages the real filesystem broker writes are counted the same way.
    app = create_celery(settings)
    for _ in range(4):
        app.send_task(ANALYSIS_TASK, args=["job-x"])
    assert depths() == {"ingest": 2, "analysis": 5}


def test_task_duration_and_log_ids_through_celery_signals(
    tmp_path: Path,
    captured: io.StringIO,
) -> None:
    metrics = ServiceMetrics()
    task_log = logging.getLogger("tests.task")
    documents = SimpleNamespace(run_parse=lambda d: task_log.info("parsing %s", d))
    context = SimpleNamespace(documents=documents, metrics=metrics)
    app = create_celery(Settings(data_dir=tmp_path), context=ContextSource(lambda: context))  # type: ignore[arg-type,return-value]
    app.tasks[PARSE_TASK].apply(args=["doc-42"])
    text = generate_latest(metrics.registry).decode()
    series = "docsight_task_duration_seconds_count"
    assert sample(text, series, state="success", task=PARSE_TASK) == 1.0
    parsing = [line for line in lines(captured) if line["logger"] == "tests.task"]
    assert parsing
    assert parsing[0]["document_id"] == "doc-42"
    assert logs.document_id.get() is None  # unbound after the task


def test_request_log_lines_are_json_with_the_request_id(captured: io.StringIO) -> None:
    app = FastAPI()
    app.add_middleware(logs.RequestIdMiddleware, tenant_of=lambda scope: "t9")
    route_log = logging.getLogger("tests.route")

    @app.get("/hello")
    def hello() -> dict[str, str]:
        route_log.info("hello called")
        try:
            raise ValueError("bad thing")
        except ValueError:
            route_log.exception("it failed")
        return {"ok": "yes"}

    with TestClient(app) as client:
        given = client.get("/hello", headers={"X-Request-ID": "abc-123"})
        fresh = client.get("/hello")
    assert given.headers["x-request-id"] == "abc-123"
    generated = fresh.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    found = [line for line in lines(captured) if line["logger"] == "tests.route"]
    assert [line["request_id"] for line in found] == ["abc-123", "abc-123", generated, generated]
    first = found[0]
    assert first["message"] == "hello called"
    assert first["level"] == "INFO"
    assert first["tenant"] == "t9"
    assert "time" in first
    assert "exception" not in first
    assert "ValueError: bad thing" in str(found[1]["exception"])
    assert logs.request_id.get() is None


def test_configure_logging_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    try:
        logs.configure_logging("json", "INFO")
        with logs.bound(job_id="job-7"):
            logging.getLogger("uvicorn.access").info('%s - "GET / HTTP/1.1" %d', "1.2.3.4", 200)
        line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
        assert line["logger"] == "uvicorn.access"
        assert line["job_id"] == "job-7"
        assert line["message"] == '1.2.3.4 - "GET / HTTP/1.1" 200'
        logs.configure_logging("text", "INFO")
        with logs.bound(document_id="d1"):
            logging.getLogger("x").warning("plain")
        assert capsys.readouterr().err.strip().endswith("x: plain [document_id=d1]")
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved:
            root.addHandler(handler)
        root.setLevel(level)
