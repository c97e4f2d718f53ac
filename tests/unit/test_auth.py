"""API keys and limits: keys stored hashed, authenticated to their tenant, revoked; the
middleware on the real routes (401 without a key, each tenant's own documents and LLM
`cache_salt`, 429 past the rate); the per-tenant bound on active analysis jobs."""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from pipelines.errors import RateLimited, TooManyJobs, Unauthenticated
from pipelines.models import Job
from services.adapters.api_keys import SqlApiKeyStore, api_keys
from services.adapters.jobs import SqlJobStore
from services.adapters.llm_fake import FakeChatModel
from services.api.auth import ApiKeyMiddleware
from services.api.errors import install_error_handlers
from services.api.routes import analysis as analysis_routes
from services.api.routes import health
from services.api.routes import jobs as job_routes
from services.app.analysis import AnalysisService
from services.app.auth import KeyService, RateLimiter, write_key_file
from services.app.documents import DocumentService
from services.app.jobs import JobService
from services.settings import Settings
from tests.unit.analysis_support import ready
from tests.unit.test_documents_service import InlineQueue
from tests.unit.test_jobs import JobQueue


@pytest.fixture
def keys(docs: DocumentService) -> KeyService:
    return KeyService(SqlApiKeyStore(docs.store.engine), cache_s=0)


def test_keys_are_stored_hashed_never_in_plaintext(keys: KeyService) -> None:
    row, plaintext = keys.create("acme", "ci")
    assert plaintext.startswith("ds_")
    assert len(plaintext) >= 40
    with keys.store.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(select(api_keys)).all()]
    assert len(rows) == 1
    assert all(plaintext not in str(value) for value in rows[0].values())
    assert plaintext[3:20] not in repr(rows)
    assert rows[0]["key_hash"] == hashlib.sha256(plaintext.encode()).hexdigest() == row.key_hash
    assert keys.authenticate(plaintext).tenant == "acme"


def test_unknown_malformed_and_revoked_keys_are_refused(keys: KeyService) -> None:
    row, plaintext = keys.create("acme", "ci")
    _, other = keys.create("beta", "")
    for wrong in (None, "", "ds_" + "x" * 43, plaintext + "x", plaintext.removeprefix("ds_")):
        with pytest.raises(Unauthenticated):
            keys.authenticate(wrong)
    keys.revoke(row.id)
    with pytest.raises(Unauthenticated, match="revoked"):
        keys.authenticate(plaintext)
    assert keys.authenticate(other).tenant == "beta"
    assert [k.revoked for k in keys.list()] == [True, False]
    assert [k.tenant for k in keys.list("beta")] == ["beta"]


def test_a_key_revoked_elsewhere_stops_after_the_cache_time(docs: DocumentService) -> None:
    server = KeyService(SqlApiKeyStore(docs.store.engine), cache_s=3600)
    admin = KeyService(SqlApiKeyStore(docs.store.engine))  # the CLI, another process
    row, plaintext = admin.create("acme", "ci")
    assert server.authenticate(plaintext).tenant == "acme"
    admin.revoke(row.id)
    assert server.authenticate(plaintext).tenant == "acme"  # cached
    server.cache_s = 0
    server._cache.clear()
    with pytest.raises(Unauthenticated):
        server.authenticate(plaintext)


def test_the_first_key_is_made_once_and_its_file_is_private(
    keys: KeyService,
    tmp_path: Path,
) -> None:
    first = keys.first_key("default")
    assert first is not None
    assert keys.authenticate(first).tenant == "default"
    assert keys.first_key("default") is None
    keys.revoke(keys.list()[0].id)
    assert keys.first_key("default") is None  # a revoked first key is not recreated
    path = tmp_path / "data" / "api_key"
    write_key_file(path, first)
    assert path.read_text().strip() == first
    assert path.stat().st_mode & 0o777 == 0o600


def test_rate_limiter_is_a_token_bucket_per_key() -> None:
    now = [0.0]
    limiter = RateLimiter(3, clock=lambda: now[0])
    for _ in range(3):
        limiter.take("a")
    with pytest.raises(RateLimited, match="3 requests per minute") as refused:
        limiter.take("a")
    assert refused.value.retry_after_s == pytest.approx(20.0)
    limiter.take("b")  # another key has its own bucket
    now[0] = 20.0
    limiter.take("a")
    with pytest.raises(RateLimited):
        limiter.take("a")
    RateLimiter(0).take("a")  # 0: no limit


def _app(
    tmp_path: Path, keys: KeyService, analysis: AnalysisService, jobs: JobService, rate: int = 0
) -> FastAPI:
    app = FastAPI()
    app.state.settings = Settings(data_dir=tmp_path)
    app.state.runtime = SimpleNamespace(keys=keys, limiter=RateLimiter(rate))
    app.state.container = SimpleNamespace(analysis=analysis, jobs=jobs)
    install_error_handlers(app)
    app.add_middleware(ApiKeyMiddleware)
    for module in (health, analysis_routes, job_routes):
        app.include_router(module.router)
    return app


@pytest.fixture
def jobs(analysis: AnalysisService) -> JobService:
    return JobService(
        jobs=SqlJobStore(analysis.store.engine),
        analysis=analysis,
        queue=JobQueue(),
        max_active_per_tenant=1,
    )


def test_each_key_sees_its_tenant_only_and_salts_its_llm_requests(
    tmp_path: Path,
    docs: DocumentService,
    queue: InlineQueue,
    analysis: AnalysisService,
    llm: FakeChatModel,
    keys: KeyService,
    jobs: JobService,
) -> None:
    ready(docs, queue, b"Liquidated damages of ten percent apply to late delivery.", "A")
    _, key_a = keys.create("A", "a")
    _, key_b = keys.create("B", "b")
    question = {"question": "What are the liquidated damages?"}
    with TestClient(_app(tmp_path, keys, analysis, jobs)) as client:
        assert client.get("/health").status_code == 200  # open
        for path in ("/v1/analysis/cache", "/v1/nothing-here"):
            refused = client.get(path)
            assert refused.status_code == 401, path
            assert refused.json()["error_code"] == "unauthenticated"
            assert refused.headers["www-authenticate"] == "Bearer"
        assert (
            client.post(
                "/v1/questions", json=question, headers={"Authorization": "Bearer ds_wrong"}
            ).status_code
            == 401
        )

        a = client.post(
            "/v1/questions", json=question, headers={"Authorization": f"Bearer {key_a}"}
        ).json()
        salts_a = {call.cache_salt for call in llm.calls}
        llm.calls.clear()
        b = client.post("/v1/questions", json=question, headers={"X-API-Key": key_b}).json()
        salts_b = {call.cache_salt for call in llm.calls}
    assert a["found"]
    assert a["citations"]
    assert not b["citations"]
    assert "ten percent" not in b["answer"]
    assert salts_a == {"A"}
    assert salts_b <= {"B"}  # B has no document: the model may not be asked at all


def test_rate_limit_per_key_gives_429_with_retry_after(
    tmp_path: Path,
    analysis: AnalysisService,
    keys: KeyService,
    jobs: JobService,
) -> None:
    _, key_a = keys.create("A", "a")
    _, key_b = keys.create("B", "b")
    with TestClient(_app(tmp_path, keys, analysis, jobs, rate=2)) as client:
        a = {"X-API-Key": key_a}
        assert [client.get("/v1/analysis/cache", headers=a).status_code for _ in range(2)] == [
            200,
            200,
        ]
        refused = client.get("/v1/analysis/cache", headers=a)
        assert client.get("/v1/analysis/cache", headers={"X-API-Key": key_b}).status_code == 200
        assert client.get("/health").status_code == 200  # open paths spend nothing
    assert refused.status_code == 429
    assert refused.json()["error_code"] == "rate_limited"
    assert "2 requests per minute" in refused.json()["detail"]
    assert int(refused.headers["retry-after"]) == 30


def test_active_analysis_jobs_per_tenant_are_bounded(
    tmp_path: Path,
    docs: DocumentService,
    queue: InlineQueue,
    analysis: AnalysisService,
    keys: KeyService,
    jobs: JobService,
) -> None:
    first = ready(docs, queue, b"This Agreement is made by the parties hereto.", "A")
    second = ready(docs, queue, b"The Supplier shall deliver the goods.", "A")
    other = ready(docs, queue, b"The Buyer shall pay within thirty days.", "B")
    _, key_a = keys.create("A", "a")
    _, key_b = keys.create("B", "b")
    with TestClient(_app(tmp_path, keys, analysis, jobs)) as client:
        a, b = {"X-API-Key": key_a}, {"X-API-Key": key_b}
        job = client.post(f"/v1/documents/{first}/summary", headers=a)
        assert job.status_code == 202
        again = client.post(f"/v1/documents/{first}/summary", headers=a)
        assert again.json()["id"] == job.json()["id"]  # the active job, not a new one
        refused = client.post(f"/v1/documents/{second}/risks", headers=a)
        assert client.post(f"/v1/documents/{other}/summary", headers=b).status_code == 202
    assert refused.status_code == 429
    assert refused.json()["error_code"] == "too_many_jobs"
    assert "limit of 1 active analysis jobs" in refused.json()["detail"]
    assert "retry-after" in refused.headers
    jobs.run(job.json()["id"])  # once it is done, the next one is accepted
    assert isinstance(jobs.request("A", "risks", second), Job)
    with pytest.raises(TooManyJobs):
        jobs.request("A", "summary", second)
    assert isinstance(jobs.submit("A", "summary", second), Job)  # reports: not limited


def test_refresh_of_an_unknown_or_other_tenants_document_is_a_404_and_no_job(
    tmp_path: Path,
    docs: DocumentService,
    queue: InlineQueue,
    analysis: AnalysisService,
    keys: KeyService,
    jobs: JobService,
) -> None:
    """Issue 11, defect 7: `?refresh=true` skips the cache, not the document check."""
    other = ready(docs, queue, b"The Buyer shall pay within thirty days.", "B")
    _, key_a = keys.create("A", "a")
    with TestClient(_app(tmp_path, keys, analysis, jobs)) as client:
        a = {"X-API-Key": key_a}
        for document_id in ("no-such-document", other):
            for kind in ("summary", "risks"):
                response = client.post(
                    f"/v1/documents/{document_id}/{kind}", params={"refresh": True}, headers=a
                )
                assert response.status_code == 404, response.text
                assert response.json()["error_code"] == "not_found"
    assert jobs.list("A") == []


def test_requests_without_a_valid_key_are_limited_per_address(
    tmp_path: Path,
    analysis: AnalysisService,
    keys: KeyService,
    jobs: JobService,
) -> None:
    """Issue 11, defect 7: guessing keys is slowed to `unauthenticated_per_minute` per
    client address (then 429 before any lookup); a valid key is not counted or slowed."""
    _, key = keys.create("A", "a")
    app = _app(tmp_path, keys, analysis, jobs)
    app.state.settings = Settings(data_dir=tmp_path, api={"unauthenticated_per_minute": 3})
    with TestClient(app) as client:
        guesses = [
            client.get("/v1/jobs", headers={"Authorization": f"Bearer ds_guess{n}"})
            for n in range(5)
        ]
        assert [r.status_code for r in guesses] == [401, 401, 401, 429, 429]
        assert guesses[-1].json()["error_code"] == "rate_limited"
        assert "retry-after" in guesses[-1].headers
        assert client.get("/health").status_code == 200  # open paths are not counted
        good = client.get("/v1/jobs", headers={"Authorization": f"Bearer {key}"})
        assert good.status_code == 429  # the address is out of tries: no lookup at all
    with TestClient(_app(tmp_path, keys, analysis, jobs)) as client:  # a fresh process
        assert client.get("/v1/jobs", headers={"X-API-Key": key}).status_code == 200


def test_header_count_and_size_are_bounded(
    tmp_path: Path,
    analysis: AnalysisService,
    keys: KeyService,
    jobs: JobService,
) -> None:
    with TestClient(_app(tmp_path, keys, analysis, jobs)) as client:
        many = {f"x-h{n}": "v" for n in range(150)}
        assert client.get("/health", headers=many).status_code == 431
        huge = client.get("/health", headers={"x-big": "v" * 40_000})
        assert huge.status_code == 431
        assert huge.json()["error_code"] == "headers_too_large"
        assert client.get("/health", headers={"x-fine": "v" * 1000}).status_code == 200
