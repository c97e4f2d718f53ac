"""The chat model's observer feeds /metrics: request seconds by model and outcome, and
prompt/completion/cached tokens, against the scripted OpenAI-compatible stub on loopback."""

from __future__ import annotations

import pytest
from prometheus_client import generate_latest

from pipelines.errors import LlmRequestRejected
from services.runtime.metrics import ServiceMetrics
from tests.adapters.test_llm_adapter import ASK, Stub, completion, delta, model_at, stub  # noqa: F401
from tests.unit.test_metrics import sample


def test_observer_records_latency_and_tokens_per_model(stub: Stub) -> None:  # noqa: F811
    metrics = ServiceMetrics()
    llm = model_at(stub.url, max_retries=0)
    llm.observer = metrics.observe_llm
    stub.replies = [
        completion("hello"),
        (400, {"error": {"message": "no"}}),
        (200, [delta("str"), delta("eam")]),
    ]
    llm.complete(ASK)
    with pytest.raises(LlmRequestRejected):
        llm.complete(ASK)
    assert "".join(llm.stream(ASK)) == "stream"
    text = generate_latest(metrics.registry).decode()
    seconds = "docsight_llm_request_seconds_count"
    assert sample(text, seconds, model="test-model", outcome="ok") == 2.0
    assert sample(text, seconds, model="test-model", outcome="error") == 1.0
    tokens = "docsight_llm_tokens_total"
    assert sample(text, tokens, model="test-model", type="prompt") == 40.0
    assert sample(text, tokens, model="test-model", type="completion") == 9.0
    assert sample(text, tokens, model="test-model", type="cached") == 32.0
    assert llm.usage().requests == 2  # the adapter's own totals are unchanged by observing


def test_a_failing_observer_does_not_fail_the_request(stub: Stub) -> None:  # noqa: F811
    def broken(model: str, seconds: float, done: object) -> None:
        raise RuntimeError("metrics down")

    llm = model_at(stub.url)
    llm.observer = broken
    stub.replies = [completion("hello")]
    assert llm.complete(ASK).text == "hello"
