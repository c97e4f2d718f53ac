"""HttpEmbedder against real servers on loopback: llama.cpp's `llama-server --embedding` with
all-MiniLM-L6-v2 converted to GGUF (its vectors must match sentence-transformers' for the
same model: the proof the conversion is right), and a small stdlib HTTP server for retries,
order, normalisation and errors. A dead port gives BackendUnavailable."""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipelines.errors import BackendUnavailable, ModelUnavailable
from services.adapters.embedder_http import EmbeddingRejected, HttpEmbedder
from services.adapters.embedder_st import SentenceTransformerEmbedder
from services.adapters.embedders import load_embedder
from services.runtime.local_models import embedding_assets
from services.runtime.local_models.embedding_server import LocalEmbeddingServer
from services.settings import EmbedderSettings, Settings
from tests.llm import cache_dir
from tests.servers import free_port

TEXTS = [
    "14. Governing Law. This Agreement shall be governed by the laws of the State of New York.",
    "5. Payment. Licensee shall pay all invoices within thirty (30) days of receipt.",
    "18. Notices. All notices shall be in writing and delivered by hand or registered mail.",
    "The Term of this Agreement is five (5) years from the Effective Date.",
    "Either party may terminate this Agreement upon ninety days' written notice.",
    "Confidential Information excludes information that is publicly available.",
    "营业收入同比增长12%，净利润为3.5亿元。",
    "Revenue grew 12% year over year; net income was $350 million.",
    "a",
    "The Supplier warrants that the goods are free from defects for twelve months. " * 4,
    "Section 9.2 Indemnification by Licensor.",
]


def cosine(a: list[float], b: list[float]) -> float:
    return math.fsum(x * y for x, y in zip(a, b, strict=True))


# --- the real server: llama-server --embedding with all-MiniLM-L6-v2 (GGUF f16) ------------


@pytest.fixture(scope="session")
def embedding_server() -> Iterator[LocalEmbeddingServer]:
    with LocalEmbeddingServer(cache_dir()) as server:
        yield server


class _Counting(httpx.HTTPTransport):
    """A real transport that counts the texts of each request."""

    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[int] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sizes.append(len(json.loads(request.content)["input"]))
        return super().handle_request(request)


@pytest.fixture
def counting() -> _Counting:
    return _Counting()


@pytest.fixture
def embedder(embedding_server: LocalEmbeddingServer, counting: _Counting) -> Iterator[HttpEmbedder]:
    assert embedding_server.base_url is not None
    client = HttpEmbedder(
        embedding_server.base_url, "all-MiniLM-L6-v2", batch_size=4, transport=counting
    )
    yield client
    client.close()


def test_a_text_beyond_the_model_window_is_cut_by_the_real_server(embedder: HttpEmbedder) -> None:
    """llama-server refuses an input over its 512-token window with HTTP 500: the text is
    embedded from its start instead of failing its document."""
    long_text = " ".join(["indemnification obligations survive termination"] * 200)
    (vector,) = embedder.embed_documents([long_text])
    start = embedder.embed_documents([long_text[: len(long_text) // 4]])[0]
    assert abs(math.sqrt(cosine(vector, vector)) - 1) < 1e-4
    assert cosine(vector, start) > 0.99


@pytest.mark.slow
def test_vectors_match_sentence_transformers(embedder: HttpEmbedder) -> None:
    reference = SentenceTransformerEmbedder("all-MiniLM-L6-v2", device="cpu")
    assert embedder.dimension == reference.dimension == 384
    served = embedder.embed_documents(TEXTS)
    expected = reference.embed_documents(TEXTS)
    cosines = [cosine(a, b) for a, b in zip(served, expected, strict=True)]
    assert min(cosines) > 0.99, cosines
    # and not merely similar to anything: each text is closest to its own reference vector
    for i, vector in enumerate(served):
        assert max(range(len(TEXTS)), key=lambda j: cosine(vector, expected[j])) == i


@pytest.mark.slow
def test_batches_keep_order(embedder: HttpEmbedder, counting: _Counting) -> None:
    assert embedder.embed_documents([]) == []
    vectors = embedder.embed_documents(TEXTS)
    assert counting.sizes == [4, 4, 3]  # 11 texts in batches of 4, no probe (first reply)
    assert embedder.dimension == 384
    assert len(vectors) == len(TEXTS)
    assert all(len(v) == 384 and abs(math.sqrt(cosine(v, v)) - 1) < 1e-4 for v in vectors)
    one_by_one = [embedder.embed_documents([text])[0] for text in TEXTS]
    reversed_batches = embedder.embed_documents(TEXTS[::-1])[::-1]
    for a, b, c in zip(vectors, one_by_one, reversed_batches, strict=True):
        assert cosine(a, b) > 0.9999
        assert cosine(a, c) > 0.9999


@pytest.mark.slow
def test_query_gets_the_prefix_documents_do_not(embedding_server: LocalEmbeddingServer) -> None:
    assert embedding_server.base_url is not None
    prefix = "Represent this question for retrieving contract clauses: "
    plain = HttpEmbedder(embedding_server.base_url, "m")
    prefixed = HttpEmbedder(embedding_server.base_url, "m", query_prefix=prefix)
    try:
        question = "Which law governs this agreement?"
        assert cosine(plain.embed_query(question), plain.embed_documents([question])[0]) > 0.9999
        query = prefixed.embed_query(question)
        assert cosine(query, prefixed.embed_documents([prefix + question])[0]) > 0.9999
        assert cosine(query, prefixed.embed_documents([question])[0]) < 0.99
        scores = prefixed.embed_documents(TEXTS[:3])
        assert max(range(3), key=lambda i: cosine(query, scores[i])) == 0  # governing law
    finally:
        plain.close()
        prefixed.close()


def test_dead_port_is_backend_unavailable_quickly() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    embedder = HttpEmbedder(url, "m", max_retries=2, backoff_s=0.01, timeout_s=5)
    started = time.monotonic()
    with pytest.raises(BackendUnavailable, match=r"no embedding server reachable at .*/v1/embed"):
        embedder.embed_documents(["a text"])
    with pytest.raises(BackendUnavailable, match=r"after 3 attempts"):
        _ = embedder.dimension  # the probe
    assert time.monotonic() - started < 5
    embedder.close()


# --- a small real HTTP server: retries, order, normalisation, errors ------------------------


class _Embed(BaseHTTPRequestHandler):
    """Embeds text i as (len, 1, 0) unnormalised, answers in reverse index order, after
    `fail_first` 503s; `status` answers that status instead; "wide" sends 4 numbers for
    inputs with "long" in them; "slow" sleeps past the client's timeout."""

    calls: list[dict[str, Any]]
    fail_first = 0
    status = 200
    mode = "ok"
    limit = 0  # > 0: a request holding a longer text gets llama-server's HTTP 500

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.calls.append({"path": self.path, "body": body, "auth": self.headers["Authorization"]})
        if len(self.calls) <= self.fail_first:
            return self._send(503, {"error": "overloaded"})
        if self.status != 200:
            return self._send(self.status, {"error": {"message": "malformed input"}})
        if self.limit and any(len(t) > self.limit for t in body["input"]):
            return self._send(500, {"error": {"message": "input is too large to process"}})
        if self.mode == "slow":
            time.sleep(1.0)
        data = [
            {"object": "embedding", "index": i,
             "embedding": [float(len(t)), 1.0, 0.0] + ([0.0] if self.mode == "wide" and
                                                      "long" in t else [])}
            for i, t in enumerate(body["input"])
        ]  # fmt: skip
        return self._send(200, {"object": "list", "model": body["model"], "data": data[::-1]})

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
def fake_api() -> Iterator[tuple[str, type[_Embed]]]:
    handler = type("Handler", (_Embed,), {"calls": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_order_normalisation_key_and_body(fake_api: tuple[str, type[_Embed]]) -> None:
    url, handler = fake_api
    embedder = HttpEmbedder(url, "Qwen/Qwen3-Embedding-0.6B", api_key="sekret", batch_size=2)
    vectors = embedder.embed_documents(["abc", "a", "abcd"])
    for text, vector in zip(["abc", "a", "abcd"], vectors, strict=True):
        norm = math.sqrt(len(text) ** 2 + 1)
        assert vector == pytest.approx([len(text) / norm, 1 / norm, 0.0])
    assert embedder.dimension == 3  # from the first reply: no probe
    assert [c["body"]["input"] for c in handler.calls] == [["abc", "a"], ["abcd"]]
    assert {c["path"] for c in handler.calls} == {"/v1/embeddings"}
    assert {c["auth"] for c in handler.calls} == {"Bearer sekret"}
    assert handler.calls[0]["body"]["model"] == "Qwen/Qwen3-Embedding-0.6B"
    assert handler.calls[0]["body"]["encoding_format"] == "float"
    embedder.close()


def test_probe_and_a_changed_dimension(fake_api: tuple[str, type[_Embed]]) -> None:
    url, handler = fake_api
    handler.mode = "wide"
    embedder = HttpEmbedder(url, "m", query_prefix="Query: ")
    assert embedder.dimension == 3
    assert [c["body"]["input"] for c in handler.calls] == [["dimension probe"]]
    norm = math.sqrt(len("Query: x") ** 2 + 1)
    assert embedder.embed_query("x") == pytest.approx([8 / norm, 1 / norm, 0.0])
    assert handler.calls[1]["body"]["input"] == ["Query: x"]
    with pytest.raises(BackendUnavailable, match=r"4 dimensions for index 0, expected 3"):
        embedder.embed_documents(["a long text"])
    embedder.close()


def test_5xx_is_retried_then_succeeds(fake_api: tuple[str, type[_Embed]]) -> None:
    url, handler = fake_api
    handler.fail_first = 2
    embedder = HttpEmbedder(url, "m", max_retries=2, backoff_s=0.01)
    assert len(embedder.embed_documents(["ab"])) == 1
    assert len(handler.calls) == 3
    handler.calls.clear()
    handler.fail_first = 5
    with pytest.raises(
        BackendUnavailable, match=r"unavailable \(HTTP 503: .*overloaded.*\) \(after 3 attempts"
    ):
        embedder.embed_documents(["a"])
    assert len(handler.calls) == 3
    embedder.close()


@pytest.mark.parametrize(
    ("status", "error", "message", "attempts"),
    [
        (400, EmbeddingRejected, r"rejected 2 text\(s\) \(HTTP 400\).*malformed input", 1),
        (413, EmbeddingRejected, r"HTTP 413", 1),
        (404, BackendUnavailable, r"refused the request \(HTTP 404; check the URL, the model", 1),
        (401, BackendUnavailable, r"HTTP 401", 1),
        (429, BackendUnavailable, r"HTTP 429: .*\) \(after 2 attempts", 2),
    ],
)
def test_error_statuses(
    fake_api: tuple[str, type[_Embed]],
    status: int,
    error: type[Exception],
    message: str,
    attempts: int,
) -> None:
    url, handler = fake_api
    handler.status = status
    embedder = HttpEmbedder(url, "m", max_retries=1, backoff_s=0.01)
    with pytest.raises(error, match=message):
        embedder.embed_documents(["ab", "a"])
    assert len(handler.calls) == attempts
    assert not isinstance(EmbeddingRejected("x"), BackendUnavailable)  # tasks don't retry it
    embedder.close()


def test_a_text_too_long_for_the_server_is_cut_not_failed(
    fake_api: tuple[str, type[_Embed]],
) -> None:
    url, handler = fake_api
    handler.limit = 100
    embedder = HttpEmbedder(url, "m", max_retries=0, batch_size=8)
    vectors = embedder.embed_documents(["short", "x" * 450, "also short"])
    # the batch was refused, then each text sent alone; the long one halved until taken
    lengths = [len(call["body"]["input"][0]) for call in handler.calls[1:]]
    assert lengths == [5, 450, 225, 112, 56, 10]
    assert len(vectors) == 3
    assert vectors[1] == pytest.approx([1.0, 1 / 56, 0.0], rel=1e-3)  # the 56-character cut
    handler.limit = 1  # nothing fits: the document fails with a reason, never retried
    with pytest.raises(EmbeddingRejected, match="even cut to"):
        embedder.embed_documents(["x" * 40])
    embedder.close()


def test_timeout_is_retried_then_unavailable(fake_api: tuple[str, type[_Embed]]) -> None:
    url, handler = fake_api
    handler.mode = "slow"
    embedder = HttpEmbedder(url, "m", max_retries=1, backoff_s=0.01, timeout_s=0.3)
    with pytest.raises(BackendUnavailable, match=r"did not answer within 0.3s"):
        embedder.embed_documents(["a"])
    assert len(handler.calls) == 2
    embedder.close()


# --- settings, the factory, the model's preparation -----------------------------------------


def test_settings_choose_the_http_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="DOCSIGHT_EMBEDDER__URL"):
        Settings(embedder=EmbedderSettings(kind="openai"))
    monkeypatch.setenv("DOCSIGHT_EMBEDDER__KIND", "openai")
    monkeypatch.setenv("DOCSIGHT_EMBEDDER__URL", "http://embeddings:8000/v1")
    monkeypatch.setenv("DOCSIGHT_EMBEDDER__API_KEY", "k")
    monkeypatch.setenv("DOCSIGHT_EMBEDDER__QUERY_PREFIX", "Instruct: Find it\\nQuery: ")
    monkeypatch.setenv("DOCSIGHT_EMBEDDER__MAX_RETRIES", "5")
    settings = Settings().embedder
    assert (settings.timeout_s, settings.max_retries) == (60.0, 5)
    assert settings.api_key is not None
    embedder = load_embedder(
        settings.kind, settings.model, settings.device, 16, url=settings.url,
        api_key=settings.api_key.get_secret_value(), query_prefix=settings.query_prefix,
    )  # fmt: skip
    assert isinstance(embedder, HttpEmbedder)
    assert (embedder.base_url, embedder.name, embedder.batch_size, embedder.query_prefix) == (
        "http://embeddings:8000/v1",
        "openai:Qwen/Qwen3-Embedding-0.6B",
        16,
        "Instruct: Find it\nQuery: ",  # a typed backslash-n is a newline
    )
    embedder.close()
    with pytest.raises(ValueError, match="needs the server's url"):
        load_embedder("openai")
    with pytest.raises(ValueError, match="timeout_s"):
        EmbedderSettings(kind="openai", url="http://e/v1", timeout_s=0)


@pytest.mark.slow  # needs the converter from `make embedding-model`
def test_conversion_never_fetches_from_a_hub(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="nothing is fetched from a model hub"):
        embedding_assets.convert_to_gguf(
            Path("sentence-transformers/all-MiniLM-L6-v2"), tmp_path / "x.gguf", cache_dir()
        )
    partial = tmp_path / "partial"  # a config without weights or tokenizer
    partial.mkdir()
    shutil.copy(embedding_assets.source_folder() / "config.json", partial)
    with pytest.raises(ModelUnavailable, match=r"converting .*partial to GGUF failed"):
        embedding_assets.convert_to_gguf(partial, tmp_path / "x.gguf", cache_dir())
    assert not (tmp_path / "x.gguf").exists()


@pytest.mark.slow
def test_a_changed_conversion_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    converter = embedding_assets._converter(cache_dir())
    monkeypatch.setattr(embedding_assets, "_converter", lambda _: converter)
    monkeypatch.setattr(embedding_assets, "EMBEDDING_SHA256", "0" * 64)
    with pytest.raises(ModelUnavailable, match=r"has sha256 [0-9a-f]{64}, expected 0000"):
        embedding_assets.prepare_embedding_model(tmp_path)
    assert list((tmp_path / "models").glob("*.gguf")) == []
    assert list((tmp_path / "models").glob("*.tmp")) == []
