"""Cross-encoder reranker behind a Jina/Cohere-style rerank API; implements `Reranker`.

`POST {base_url}/rerank` with `{"model", "query", "documents", "top_n"}` answers
`{"results": [{"index", "relevance_score"}, ...]}` sorted by score. vLLM serves it for a
reranker run with the pooling runner (`/rerank`, `/v1/rerank`), and so does llama.cpp's
`llama-server --reranking` (tests/adapters/test_reranker_http.py runs one on loopback).

Around the requests: long candidate lists are sent in batches of `batch_size` documents
(scores of a cross-encoder are per pair, so batches compare), each batch's results go back to
input order, timeouts, bounded retries with exponential backoff and jitter
(services/adapters/retry.py) on connection errors, timeouts, 408/409/429 and 5xx, and the API
key as a bearer token. httpx errors become `pipelines.errors.BackendUnavailable` here, with
the URL and the reason.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import httpx

from pipelines.errors import BackendUnavailable
from services.adapters.retry import Backoff, Retryable, post_json, retried_or_unavailable

log = logging.getLogger(__name__)
_RETRY_STATUS = {408, 409, 429}


class HttpReranker:
    """Scores passages with a remote cross-encoder; one httpx client, thread-safe."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 30.0,
        connect_timeout_s: float = 5.0,
        max_retries: int = 2,
        backoff_s: float = 0.25,
        max_backoff_s: float = 4.0,
        batch_size: int = 64,
        prior_weight: float = 0.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if batch_size < 1 or max_retries < 0 or timeout_s <= 0:
            raise ValueError("batch_size >= 1, max_retries >= 0, timeout_s > 0")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.prior_weight = prior_weight
        """A cross-encoder's order stands on its own: by default the first stage's rank
        only breaks its ties (see `pipelines.ports.Reranker.prior_weight`)."""
        self.batch_size = batch_size
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
        return f"http:{self.model}"

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        """One relevance score per passage, in input order; higher is more relevant."""
        scores: list[float] = []
        for start in range(0, len(passages), self.batch_size):
            scores.extend(self._score_batch(query, passages[start : start + self.batch_size]))
        return scores

    def close(self) -> None:
        self._client.close()

    def _score_batch(self, query: str, documents: Sequence[str]) -> list[float]:
        body = {
            "model": self.model,
            "query": query,
            "documents": list(documents),
            "top_n": len(documents),
        }
        return retried_or_unavailable(
            lambda: self._in_input_order(self._post(body), len(documents)),
            self._backoff,
            log=log,
            what="rerank request",
        )

    def _post(self, body: dict[str, Any]) -> Any:
        url = f"{self.base_url}/rerank"
        response = post_json(self._client, url, body, server="reranker", timeout_s=self._timeout_s)
        status = response.status_code
        if status in _RETRY_STATUS or status >= 500:
            raise Retryable(f"the reranker at {url} is unavailable (HTTP {status})")
        if status >= 400:  # bad key, unknown model, a request it refuses: retrying won't help
            raise BackendUnavailable(
                f"the reranker at {url} rejected the request (HTTP {status}): {response.text[:300]}"
            )
        try:
            return response.json()
        except ValueError as exc:
            raise BackendUnavailable(f"the reranker at {url} answered non-JSON") from exc

    def _in_input_order(self, reply: Any, count: int) -> list[float]:
        results = reply.get("results") if isinstance(reply, dict) else None
        scores: list[float | None] = [None] * count
        for item in results if isinstance(results, list) else ():
            index = item.get("index") if isinstance(item, dict) else None
            value = item.get("relevance_score", item.get("score")) if index is not None else None
            if (
                isinstance(index, int)
                and not isinstance(index, bool)
                and 0 <= index < count
                and scores[index] is None
                and isinstance(value, int | float)
                and math.isfinite(value)
            ):
                scores[index] = float(value)
        missing = [i for i, value in enumerate(scores) if value is None]
        if missing:
            raise BackendUnavailable(
                f"the reranker at {self.base_url} returned no valid score for "
                f"{len(missing)} of {count} documents (first: index {missing[0]})"
            )
        return [value for value in scores if value is not None]
