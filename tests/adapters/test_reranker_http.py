"""HttpReranker against real servers on loopback: llama.cpp's `llama-server --reranking` with
the converted yes/no reranker (slow), and a small stdlib HTTP server for batching, order,
retries and errors (fast). A dead port gives BackendUnavailable."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from pipelines.errors import BackendUnavailable
from services.adapters.reranker_http import HttpReranker
from services.runtime.composition import build_reranker
from services.runtime.local_models.reranker_server import LocalRerankServer
from services.settings import Settings
from tests.llm import cache_dir
from tests.servers import free_port

GOVERNING_LAW = (
    "14. Governing Law. This Agreement shall be governed by and construed in accordance with "
    "the laws of the State of New York, without regard to its conflict of laws principles."
)
PAYMENT = (
    "5. Payment. Licensee shall pay all invoices within thirty (30) days of receipt. Late "
    "payments bear interest at one percent (1%) per month."
)
NOTICES = (
    "18. Notices. All notices shall be in writing and delivered by hand or by registered mail "
    "to the addresses set out on the first page of this Agreement."
)


# --- the real reranker: llama-server --reranking with the converted model -----------------


@pytest.fixture(scope="module")
def rerank_server() -> Iterator[LocalRerankServer]:
    with LocalRerankServer(cache_dir()) as server:
        yield server


@pytest.fixture
def reranker(rerank_server: LocalRerankServer) -> Iterator[HttpReranker]:
    assert rerank_server.base_url is not None
    client = HttpReranker(rerank_server.base_url, rerank_server.model_name, timeout_s=300)
    yield client
    client.close()


@pytest.mark.slow
def test_relevant_clause_scores_higher_and_order_is_kept(reranker: HttpReranker) -> None:
    query = "Which law governs this agreement?"
    passages = [PAYMENT, GOVERNING_LAW, NOTICES]
    scores = reranker.score(query, passages)
    assert len(scores) == 3
    assert scores[1] > scores[0], scores
    assert scores[1] > scores[2], scores
    reversed_scores = reranker.score(query, passages[::-1])  # scores follow the input order
    assert reversed_scores[::-1] == pytest.approx(scores, abs=1e-3)


@pytest.mark.slow
def test_batches_and_both_routes_agree(rerank_server: LocalRerankServer) -> None:
    assert rerank_server.base_url is not None
    query = "governing law"
    passages = [PAYMENT, GOVERNING_LAW, NOTICES, "The Term is five (5) years."]
    root = rerank_server.base_url.removesuffix("/v1")  # llama-server: /rerank and /v1/rerank
    one_batch = HttpReranker(rerank_server.base_url, "any", timeout_s=300)
    batched = HttpReranker(root, "any", timeout_s=300, batch_size=3)
    try:
        expected = one_batch.score(query, passages)
        assert batched.score(query, passages) == pytest.approx(expected, abs=1e-3)
    finally:
        one_batch.close()
        batched.close()
    assert max(range(4), key=expected.__getitem__) == 1


def test_dead_port_is_backend_unavailable() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    reranker = HttpReranker(url, "m", max_retries=1, backoff_s=0.01, timeout_s=5)
    with pytest.raises(BackendUnavailable, match=r"no reranker reachable at .*/v1/rerank"):
        reranker.score("q", ["a passage"])
    assert reranker.score("q", []) == []  # no request for no passages
    reranker.close()


# --- a small real HTTP server: batching, order, key, retries, errors -----------------------


class _Rerank(BaseHTTPRequestHandler):
    """Scores a document by its length; answers sorted by score (as vLLM does), after
    `fail_first` 503s; `mode` "slow" sleeps past the client's timeout, "bad" omits a result,
    "reject" answers 400."""

    calls: list[dict[str, Any]]
    mode = "ok"
    fail_first = 0

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.calls.append({"path": self.path, "body": body, "auth": self.headers["Authorization"]})
        if len(self.calls) <= self.fail_first:
            return self._send(503, {"error": "overloaded"})
        if self.mode == "reject":
            return self._send(400, {"error": "unknown model"})
        if self.mode == "slow":
            time.sleep(1.0)
        results = [
            {"index": i, "relevance_score": float(len(doc)), "document": {"text": doc}}
            for i, doc in enumerate(body["documents"])
        ]
        results.sort(key=lambda r: -r["relevance_score"])
        if self.mode == "bad":
            results = results[1:]
        return self._send(200, {"model": body["model"], "results": results[: body["top_n"]]})

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # a client timed out
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture
def fake_api() -> Iterator[tuple[str, type[_Rerank]]]:
    handler = type("Handler", (_Rerank,), {"calls": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_batches_come_back_in_input_order(fake_api: tuple[str, type[_Rerank]]) -> None:
    url, handler = fake_api
    passages = ["ccc", "a", "eeeee", "bb", "dddd", "ffffff", "g"]
    reranker = HttpReranker(url, "bge", api_key="sekret", batch_size=3)
    assert reranker.score("q", passages) == [float(len(p)) for p in passages]
    assert [len(c["body"]["documents"]) for c in handler.calls] == [3, 3, 1]
    assert [c["body"]["top_n"] for c in handler.calls] == [3, 3, 1]
    assert {c["path"] for c in handler.calls} == {"/v1/rerank"}
    assert {c["auth"] for c in handler.calls} == {"Bearer sekret"}
    assert handler.calls[0]["body"]["model"] == "bge"
    reranker.close()


def test_overload_is_retried(fake_api: tuple[str, type[_Rerank]]) -> None:
    url, handler = fake_api
    handler.fail_first = 2
    reranker = HttpReranker(url, "m", max_retries=2, backoff_s=0.01)
    assert reranker.score("q", ["ab", "a"]) == [2.0, 1.0]
    assert len(handler.calls) == 3
    handler.calls.clear()
    handler.fail_first = 5
    with pytest.raises(BackendUnavailable, match=r"unavailable \(HTTP 503\) \(after 3 attempts"):
        reranker.score("q", ["a"])
    reranker.close()


@pytest.mark.parametrize(
    ("mode", "message", "attempts"),
    [
        ("reject", r"rejected the request \(HTTP 400\).*unknown model", 1),
        ("bad", r"no valid score for 1 of 2 documents", 1),
        ("slow", r"did not answer within 0.3s", 2),
    ],
)
def test_errors_become_backend_unavailable(
    fake_api: tuple[str, type[_Rerank]], mode: str, message: str, attempts: int
) -> None:
    url, handler = fake_api
    handler.mode = mode
    reranker = HttpReranker(url, "m", max_retries=1, backoff_s=0.01, timeout_s=0.3)
    with pytest.raises(BackendUnavailable, match=message):
        reranker.score("q", ["ab", "a"])
    assert len(handler.calls) == attempts
    reranker.close()


# --- settings and the container -------------------------------------------------------------


def test_settings_choose_the_reranker(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="DOCSIGHT_RERANKER__URL"):
        Settings(reranker={"mode": "http"})
    monkeypatch.setenv("DOCSIGHT_RERANKER__MODE", "http")
    monkeypatch.setenv("DOCSIGHT_RERANKER__URL", "http://reranker:8000/v1")
    monkeypatch.setenv("DOCSIGHT_RERANKER__API_KEY", "k")
    monkeypatch.setenv("DOCSIGHT_RERANKER__BATCH_SIZE", "16")
    http = build_reranker(Settings())
    assert isinstance(http, HttpReranker)
    assert (http.base_url, http.batch_size, http.name) == (
        "http://reranker:8000/v1",
        16,
        "http:BAAI/bge-reranker-v2-m3",
    )
    http.close()
    assert build_reranker(Settings(reranker={"mode": "none"})) is None
    lexical = build_reranker(Settings(reranker={"mode": "lexical"}))
    assert lexical is not None
    assert lexical.name == "lexical"
