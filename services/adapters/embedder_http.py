"""Embedder behind an OpenAI-compatible `/embeddings` API; implements `Embedder`.

`POST {base_url}/embeddings` with `{"model", "input": [...], "encoding_format": "float"}`
answers `{"data": [{"index", "embedding"}, ...]}`. vLLM serves it for an embedding model run
with the pooling runner (`vllm serve Qwen/Qwen3-Embedding-0.6B --runner pooling`), and so does
llama.cpp's `llama-server --embedding` (tests/adapters/test_embedder_http.py runs one on
loopback with all-MiniLM-L6-v2 converted to GGUF).

Texts are sent in batches of `batch_size`; each reply is put back in input order by its
`index`, checked (one finite vector per text, all of one dimension) and L2-normalised where
the server did not. The dimension is given, or fixed by the first reply (one probe request
when `dimension` is read first, as the composition root does to open the index). Queries get
`query_prefix` in front (Qwen3-Embedding wants an instruction, "Instruct: ...\\nQuery: ");
documents are sent as they are.

Timeouts, bounded retries with backoff and jitter (services/adapters/retry.py) on connection
errors, timeouts, 408/409/429 and 5xx; the API key as a bearer token. A server that cannot be
reached, keeps failing or refuses the configuration (401/403/404) raises
`pipelines.errors.BackendUnavailable`; a request the server rejects as malformed or too long
(400/413/422) raises `EmbeddingRejected`, which is not retried.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import httpx

from pipelines.errors import BackendUnavailable, EmbeddingRejected
from services.adapters.retry import Backoff, Retryable, post_json, retried_or_unavailable

log = logging.getLogger(__name__)
_RETRY_STATUS = {408, 409, 429}
_REQUEST_FAULT = {400, 413, 422}
_PROBE_TEXT = "dimension probe"


class _TooLong(EmbeddingRejected):
    """The server refused the request as longer than its model's context."""


_TOO_LONG = ("too large", "too long", "context length", "maximum context", "exceeds")
MIN_CUT_CHARS = 16
"""A text is cut in half (its start kept) until the server takes it or it is this short."""


class HttpEmbedder:
    """Embeds with a remote OpenAI-compatible server; one httpx client, thread-safe."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        query_prefix: str | None = None,
        dimension: int | None = None,
        timeout_s: float = 60.0,
        connect_timeout_s: float = 5.0,
        max_retries: int = 3,
        backoff_s: float = 0.25,
        max_backoff_s: float = 4.0,
        batch_size: int = 32,
        concurrent_calls: int = 4,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """`concurrent_calls`: how many calls ingestion may have in flight at once (read by
        `services.app.embed_batches.EmbedBatcher`; the server batches them itself)."""
        if batch_size < 1 or max_retries < 0 or timeout_s <= 0:
            raise ValueError("batch_size >= 1, max_retries >= 0, timeout_s > 0")
        if dimension is not None and dimension < 1:
            raise ValueError("dimension >= 1")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.query_prefix = query_prefix or ""
        self.batch_size = batch_size
        self.concurrent_calls = max(1, concurrent_calls)
        self._dimension = dimension
        self._timeout_s = timeout_s
        self._backoff = Backoff(max_retries, backoff_s, max_backoff_s)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=min(connect_timeout_s, timeout_s)),
            transport=transport,
        )

    @property
    def name(self) -> str:
        return f"openai:{self.model}"

    @property
    def dimension(self) -> int:
        """The vectors' length: given, or learnt from one probe request on first use."""
        if self._dimension is None:
            (vector,) = self._embed_batch([_PROBE_TEXT])  # sets it
            return len(vector)
        return self._dimension

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """One normalised vector per text, in order. A batch refused as too long is sent
        again text by text, each too long one cut to its start (as sentence-transformers
        truncates to its model's window)."""
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            try:
                vectors.extend(self._embed_batch(batch))
            except _TooLong:
                vectors.extend(self._embed_cut(text) for text in batch)
        return vectors

    def _embed_cut(self, text: str) -> list[float]:
        while True:
            try:
                (vector,) = self._embed_batch([text])
                return vector
            except _TooLong as exc:
                if len(text) <= MIN_CUT_CHARS:
                    raise EmbeddingRejected(f"{exc} (even cut to {len(text)} characters)") from exc
                log.warning("a text of %d characters was too long to embed: cut", len(text))
                text = text[: len(text) // 2]

    def embed_query(self, text: str) -> list[float]:
        """A normalised vector for a search query, `query_prefix` in front."""
        (vector,) = self._embed_batch([self.query_prefix + text])
        return vector

    def close(self) -> None:
        self._client.close()

    def _embed_batch(self, texts: Sequence[str]) -> list[list[float]]:
        body = {"model": self.model, "input": list(texts), "encoding_format": "float"}
        return retried_or_unavailable(
            lambda: self._in_input_order(self._post(body), len(texts)),
            self._backoff,
            log=log,
            what="embedding request",
        )

    def _post(self, body: dict[str, Any]) -> Any:
        url = f"{self.base_url}/embeddings"
        response = post_json(
            self._client, url, body, server="embedding server", timeout_s=self._timeout_s
        )
        status = response.status_code
        if status in _REQUEST_FAULT | {500} and any(m in response.text.lower() for m in _TOO_LONG):
            # vLLM answers 400, llama-server 500 ("input is too large to process")
            raise _TooLong(
                f"the embedding server at {url} found a text too long (HTTP {status}): "
                f"{response.text[:200]}"
            )
        if status in _RETRY_STATUS or status >= 500:
            detail = f": {response.text[:200]}" if response.text else ""
            raise Retryable(f"the embedding server at {url} is unavailable (HTTP {status}{detail})")
        if status in _REQUEST_FAULT:
            raise EmbeddingRejected(
                f"the embedding server at {url} rejected {len(body['input'])} text(s) "
                f"(HTTP {status}): {response.text[:300]}"
            )
        if status >= 400:  # bad key, unknown model: the configuration, retrying won't help
            raise BackendUnavailable(
                f"the embedding server at {url} refused the request (HTTP {status}; check the "
                f"URL, the model name {self.model!r} and the API key): {response.text[:300]}"
            )
        try:
            return response.json()
        except ValueError as exc:
            raise BackendUnavailable(f"the embedding server at {url} answered non-JSON") from exc

    def _in_input_order(self, reply: Any, count: int) -> list[list[float]]:
        data = reply.get("data") if isinstance(reply, dict) else None
        vectors: list[list[float] | None] = [None] * count
        for item in data if isinstance(data, list) else ():
            index = item.get("index") if isinstance(item, dict) else None
            if (
                isinstance(index, int)
                and not isinstance(index, bool)
                and 0 <= index < count
                and vectors[index] is None
            ):
                vectors[index] = self._checked(item.get("embedding"), index)
        missing = [i for i, vector in enumerate(vectors) if vector is None]
        if missing:
            raise BackendUnavailable(
                f"the embedding server at {self.base_url} returned no vector for "
                f"{len(missing)} of {count} texts (first: index {missing[0]})"
            )
        return [vector for vector in vectors if vector is not None]

    def _checked(self, values: Any, index: int) -> list[float]:
        """The vector as floats, of the expected dimension, finite, L2-normalised."""
        if not isinstance(values, list) or not all(
            isinstance(x, int | float) and not isinstance(x, bool) for x in values
        ):
            raise BackendUnavailable(
                f"the embedding server at {self.base_url} sent no list of floats for index "
                f"{index} (base64 or another encoding_format?)"
            )
        vector = [float(x) for x in values]
        if self._dimension is None:  # the first reply fixes it
            self._dimension = len(vector)
        expected = self._dimension
        if len(vector) != expected:
            raise BackendUnavailable(
                f"the embedding server at {self.base_url} sent a vector of {len(vector)} "
                f"dimensions for index {index}, expected {expected} (another model behind "
                "the URL? the index holds vectors of the first one)"
            )
        norm = math.sqrt(math.fsum(x * x for x in vector))
        if not math.isfinite(norm) or norm == 0.0:
            raise BackendUnavailable(
                f"the embedding server at {self.base_url} sent a zero or non-finite vector "
                f"for index {index}"
            )
        if abs(norm - 1.0) > 1e-4:
            vector = [x / norm for x in vector]
        return vector
