"""Request timeouts that follow the measured speed (services/adapters/llm_speed.py) and the
adapter that applies them: a timed-out request is retried with twice the time, never the
same, and not at all once the ceiling is reached (LlmTimeout, for the caller to split)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from pipelines.errors import LlmTimeout, LlmUnavailable
from pipelines.models import ChatMessage
from services.adapters.llm import OpenAiChatModel
from services.adapters.llm_speed import Throughput, TimeoutPolicy, estimate_prompt_tokens


def test_timeout_grows_with_the_request_and_stays_within_floor_and_ceiling() -> None:
    speed = Throughput(100.0, 10.0)
    policy = TimeoutPolicy(factor=3.0, floor_s=5.0, ceiling_s=120.0)
    assert speed.expected_s(1000, 100) == pytest.approx(20.0)
    assert policy.timeout_s(speed, 1000, 100) == pytest.approx(60.0)
    assert policy.timeout_s(speed, 1000, 200) == pytest.approx(90.0)  # max_tokens counts
    assert policy.timeout_s(speed, 10, 1) == 5.0  # the floor
    assert policy.timeout_s(speed, 100_000, 1000) == 120.0  # the ceiling
    assert policy.timeout_s(speed, 1000, 100, attempt=1) == 120.0  # doubled, capped
    assert policy.timeout_s(speed, 100, 10, attempt=1) == pytest.approx(2 * 6.0)


def test_speed_is_learnt_from_llama_timings_or_from_wall_time() -> None:
    speed = Throughput(50.0, 10.0, weight=0.5)
    for _ in range(12):  # llama.cpp's own measure: prompt and generation apart
        speed.observe(
            prompt_tokens=0,
            output_tokens=0,
            seconds=0,
            timings={
                "prompt_n": 400,
                "prompt_ms": 2000.0,
                "predicted_n": 80,
                "predicted_ms": 2000.0,
            },
        )
    assert speed.prompt_tps == pytest.approx(200.0, rel=0.01)
    assert speed.output_tps == pytest.approx(40.0, rel=0.01)
    before = speed.expected_s(400, 80)
    for _ in range(12):  # no timings (vLLM): both rates scaled by the observed slowdown
        speed.observe(prompt_tokens=400, output_tokens=80, seconds=3 * before)
    assert speed.expected_s(400, 80) == pytest.approx(3 * before, rel=0.05)
    speed.observe(prompt_tokens=2, output_tokens=1, seconds=100.0)  # too small to measure
    assert speed.expected_s(400, 80) == pytest.approx(3 * before, rel=0.05)


def test_a_timeout_slows_the_estimate_to_at_least_what_was_waited() -> None:
    speed = Throughput(1000.0, 100.0)
    speed.timed_out(prompt_tokens=1000, output_tokens=100, waited_s=20.0)
    assert speed.expected_s(1000, 100) == pytest.approx(20.0)


def test_prompt_tokens_are_estimated_from_above() -> None:
    english = [ChatMessage(role="user", content="word " * 300)]  # ~300 Qwen tokens
    chinese = [ChatMessage(role="user", content="合同" * 150)]  # ~200-300 tokens
    assert estimate_prompt_tokens(english) >= 300
    assert estimate_prompt_tokens(chinese) >= 200


class SlowStub:
    """POST /v1/chat/completions answered after `delays[n]` seconds (the last one repeats)."""

    def __init__(self, delays: list[float]) -> None:
        self.delays, self.started = delays, 0
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers["Content-Length"]))
                n = stub.started
                stub.started += 1
                time.sleep(stub.delays[min(n, len(stub.delays) - 1)])
                body = json.dumps(
                    {
                        "id": "x",
                        "object": "chat.completion",
                        "created": 0,
                        "model": "m",
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {"role": "assistant", "content": "ok"},
                            }
                        ],
                        "usage": {"prompt_tokens": 40, "completion_tokens": 2, "total_tokens": 42},
                    }
                ).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the client gave up (timed out)
                    pass

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()


@pytest.fixture
def slow_stub(request: pytest.FixtureRequest) -> Iterator[SlowStub]:
    stub = SlowStub(request.param)
    yield stub
    stub.server.shutdown()
    stub.server.server_close()


HELLO = [ChatMessage(role="user", content="hello")]


@pytest.mark.parametrize("slow_stub", [[3.0, 0.0]], indirect=True)
def test_a_timed_out_request_is_retried_with_twice_the_time(slow_stub: SlowStub) -> None:
    model = OpenAiChatModel(
        slow_stub.url,
        "m",
        timeout_s=30,
        timeout_min_s=0.5,
        timeout_factor=1,
        speed=Throughput(1e6, 1e6),
        max_retries=1,
        backoff_s=0.01,
        max_tokens=8,
    )
    assert model.timeout_s(10, 8) == 0.5
    assert model.complete(HELLO).text == "ok"
    assert slow_stub.started == 2


@pytest.mark.parametrize("slow_stub", [[5.0]], indirect=True)
def test_no_retry_once_the_timeout_reached_the_ceiling(slow_stub: SlowStub) -> None:
    model = OpenAiChatModel(
        slow_stub.url,
        "m",
        timeout_s=1.0,
        timeout_min_s=0.25,
        timeout_factor=1,
        speed=Throughput(1e6, 1e6),
        max_retries=5,
        backoff_s=0.01,
        max_tokens=8,
    )
    started = time.monotonic()
    with pytest.raises(LlmTimeout, match=r"did not answer within 1\.0s") as caught:
        model.complete(HELLO)
    assert isinstance(caught.value, LlmUnavailable)  # a job waits and is retried
    assert slow_stub.started == 3  # 0.25 s, 0.5 s, 1.0 s (the ceiling), then no more
    # Generous bound: the waits add up to 1.75 s; the rest is a loaded machine's slack.
    assert time.monotonic() - started < 30


@pytest.mark.parametrize("slow_stub", [[5.0]], indirect=True)
def test_a_timeout_below_the_ceiling_is_unavailable_not_too_big(slow_stub: SlowStub) -> None:
    model = OpenAiChatModel(
        slow_stub.url,
        "m",
        timeout_s=60.0,
        timeout_min_s=0.25,
        timeout_factor=1,
        speed=Throughput(1e6, 1e6),
        max_retries=0,
        max_tokens=8,
    )
    with pytest.raises(LlmUnavailable, match=r"did not answer within 0\.25s") as caught:
        model.complete(HELLO)
    assert not isinstance(caught.value, LlmTimeout)  # not split: retried later, longer
    assert model.timeout_s(10, 8) > 0.25  # the estimate remembers how slow it was
