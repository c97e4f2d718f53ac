"""The LLM adapter (services/adapters/llm.py).

Against a scripted OpenAI-compatible stub on loopback: request shape (thinking switch,
sampling, cache_salt, json_schema), reasoning fields and `<think>` never reaching callers,
bounded retries and error conversion. Against the real embedded llama-server (`slow`):
completion, structured output, streaming, prefix-cache usage, length failures, a dead port.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import BaseModel, Field

from pipelines.errors import LlmOutputInvalid, LlmRequestRejected, LlmUnavailable
from pipelines.models import ChatMessage
from services.adapters.llm import OpenAiChatModel
from tests.llm import chat_model

Reply = tuple[int, Any]  # (status, JSON body) or (200, [SSE chunk dicts]) for streams


class Stub:
    """Answers POST /v1/chat/completions from a script; records every request body."""

    def __init__(self, replies: list[Reply]) -> None:
        self.replies = list(replies)
        self.requests: list[dict[str, Any]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append(body)
                status, payload = stub.replies.pop(0) if stub.replies else (500, {})
                if isinstance(payload, list):
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.end_headers()
                    for event in payload:
                        self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                        self.wfile.flush()
                    self.wfile.write(b"data: [DONE]\n\n")
                    return
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub() -> Iterator[Stub]:
    server = Stub([])
    yield server
    server.close()


def completion(content: str, finish: str = "stop", **message: Any) -> Reply:
    return (
        200,
        {
            "id": "x",
            "object": "chat.completion",
            "created": 0,
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": finish,
                    "message": {"role": "assistant", "content": content, **message},
                }
            ],
            "usage": {
                "prompt_tokens": 40,
                "completion_tokens": 9,
                "total_tokens": 49,
                "prompt_tokens_details": {"cached_tokens": 32},
            },
        },
    )


def delta(content: str) -> dict[str, Any]:
    return {
        "id": "x",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}],
    }


class Risk(BaseModel):
    category: str
    quote: str


class Risks(BaseModel):
    risks: list[Risk] = Field(max_length=3)


ASK = [
    ChatMessage(role="system", content="You are terse."),
    ChatMessage(role="user", content="Say hello."),
]


def model_at(url: str, **options: Any) -> OpenAiChatModel:
    return OpenAiChatModel(url, "test-model", backoff_s=0.01, **options)


def test_request_carries_thinking_switch_sampling_limits_and_salt(stub: Stub) -> None:
    stub.replies = [completion("hello"), completion("<think>hmm</think>hi")]
    llm = model_at(stub.url, max_tokens=77)
    first = llm.complete(ASK, cache_salt="tenant-1")
    second = llm.complete(ASK, thinking=True, max_tokens=300)
    off, on = stub.requests
    assert off["chat_template_kwargs"] == {"enable_thinking": False}
    assert (off["temperature"], off["top_p"], off["top_k"]) == (0.7, 0.8, 20)
    assert off["max_tokens"] == 77
    assert off["max_completion_tokens"] == 77
    assert off["cache_salt"] == "tenant-1"
    assert off["messages"][0] == {"role": "system", "content": "You are terse."}
    assert on["chat_template_kwargs"] == {"enable_thinking": True}
    assert (on["temperature"], on["top_p"], on["top_k"]) == (0.6, 0.95, 20)
    assert on["max_tokens"] == 300
    assert "cache_salt" not in on
    assert first.text == "hello"
    assert first.finish_reason == "stop"
    assert (first.prompt_tokens, first.completion_tokens, first.cached_prompt_tokens) == (40, 9, 32)
    assert second.text == "hi"
    assert second.reasoning_dropped
    assert llm.usage().requests == 2
    assert llm.usage().cached_prompt_tokens == 64


def test_reasoning_field_never_reaches_the_caller(stub: Stub) -> None:
    stub.replies = [completion("The answer.", reasoning_content="private chain of thought")]
    reply = model_at(stub.url).complete(ASK, thinking=True)
    assert reply.text == "The answer."
    assert reply.reasoning_dropped
    assert "private" not in reply.model_dump_json()


def test_structured_sends_json_schema_and_repairs_once(stub: Stub) -> None:
    stub.replies = [
        completion('{"risks": [{"category": "cap"}]}'),
        completion('{"risks": [{"category": "cap", "quote": "liability is capped"}]}'),
    ]
    result = model_at(stub.url).structured(ASK, Risks)
    assert result.risks == [Risk(category="cap", quote="liability is capped")]
    fmt = stub.requests[0]["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "Risks"
    assert fmt["json_schema"]["schema"] == Risks.model_json_schema()
    repair = stub.requests[1]["messages"]
    assert repair[-2] == {"role": "assistant", "content": '{"risks": [{"category": "cap"}]}'}
    assert "risks.0.quote: Field required" in repair[-1]["content"]


def test_structured_json_in_reasoning_field_or_cut_off_is_invalid(stub: Stub) -> None:
    stub.replies = [
        completion("", reasoning='{"risks": []}'),
        completion('{"risks": [' + " " * 40, finish="length"),
    ]
    with pytest.raises(LlmOutputInvalid, match="finish_reason=length"):
        model_at(stub.url).structured(ASK, Risks)
    assert len(stub.requests) == 2
    assert "reasoning field" in stub.requests[1]["messages"][-1]["content"]


def test_stream_filters_think_blocks_split_across_deltas(stub: Stub) -> None:
    pieces = ["<thi", "nk>secret", " plan</th", "ink>\n\nHel", "lo wor", "ld"]
    stub.replies = [(200, [delta(piece) for piece in pieces])]
    out = list(model_at(stub.url).stream(ASK, thinking=True))
    assert "".join(out) == "Hello world"
    assert len(out) >= 2  # text arrives as it comes, not in one piece at the end
    assert stub.requests[0]["stream"] is True


def test_5xx_and_429_are_retried_with_bounds(stub: Stub) -> None:
    stub.replies = [(503, {"error": "busy"}), (429, {"error": "slow down"}), completion("ok")]
    assert model_at(stub.url, max_retries=2).complete(ASK).text == "ok"
    assert len(stub.requests) == 3
    stub.requests.clear()
    stub.replies = [(500, {"error": "boom"})] * 5
    with pytest.raises(LlmUnavailable, match=r"unavailable \(HTTP 500\)"):
        model_at(stub.url, max_retries=2).complete(ASK)
    assert len(stub.requests) == 3


def test_4xx_is_rejected_without_retry(stub: Stub) -> None:
    stub.replies = [(400, {"error": {"message": "prompt exceeds the context size"}})]
    with pytest.raises(LlmRequestRejected, match="HTTP 400"):
        model_at(stub.url, max_retries=3).complete(ASK)
    assert len(stub.requests) == 1


def test_concurrency_is_limited(stub: Stub) -> None:
    llm = model_at(stub.url, max_concurrency=1)
    stub.replies = [completion("a"), completion("b")]
    held = threading.Event()
    stream = llm.stream(ASK)
    stub.replies.insert(0, (200, [delta("first")]))
    assert next(stream) == "first"  # the stream holds the only slot until it is closed

    def other() -> None:
        llm.complete(ASK)
        held.set()

    thread = threading.Thread(target=other)
    thread.start()
    assert not held.wait(0.5)
    stream.close()
    assert held.wait(5)
    thread.join()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_dead_server_gives_llm_unavailable_quickly_after_bounded_retries() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    llm = OpenAiChatModel(url, "m", max_retries=2, backoff_s=0.2)
    started = time.monotonic()
    with pytest.raises(LlmUnavailable, match=f"no LLM reachable at {url}"):
        llm.complete(ASK)
    elapsed = time.monotonic() - started
    assert 0.15 <= elapsed < 3.0  # two backoffs (0.1-0.2 s, 0.2-0.4 s), not a long hang
    with pytest.raises(LlmUnavailable):
        list(llm.stream(ASK))


# --- against the real embedded llama-server (Qwen2.5-Coder-0.5B, no thinking of its own) ---

CONTRACT = (
    "SUPPLY AGREEMENT between Acme Corporation (the Supplier) and Globex Inc. (the Buyer). "
    "Section 9. The Supplier's total liability shall not exceed the fees paid in the prior "
    "twelve months. Section 12. This Agreement is governed by the laws of the State of Delaware."
)


class ContractFacts(BaseModel):
    parties: list[str] = Field(min_length=1, max_length=4)
    governing_law: str


@pytest.fixture
def local(request: pytest.FixtureRequest) -> OpenAiChatModel:
    """The adapter on the session's llama-server (tests/conftest.py's `llm_url`)."""
    try:
        url = request.getfixturevalue("llm_url")
    except pytest.FixtureLookupError:
        pytest.skip("no llm_url fixture: tests/conftest.py does not start the local llama-server")
    return chat_model(url, request.getfixturevalue("llm_speed"), "local", seed=7, max_tokens=256)


@pytest.mark.slow
def test_real_completion_reports_usage(local: OpenAiChatModel) -> None:
    prompt = [ChatMessage(role="user", content="Reply with exactly one word: pong")]
    reply = local.complete(prompt, cache_salt="tenant-a")
    assert "pong" in reply.text.lower()
    assert reply.finish_reason == "stop"
    assert reply.prompt_tokens > 5
    assert reply.completion_tokens >= 1
    assert reply.cached_prompt_tokens is not None  # llama-server reports prefix-cache hits


@pytest.mark.slow
def test_real_requests_measure_the_speed_timeouts_follow(local: OpenAiChatModel) -> None:
    """llama.cpp's timings feed the estimate: the session's measure is replaced by this
    request's, and a bigger request gets a longer timeout."""
    before = local.speed.samples
    words = " ".join(f"item{n}" for n in range(80))  # a fresh prompt: not from the cache
    local.complete([ChatMessage(role="user", content=f"{words}\nCount the items.")], max_tokens=16)
    assert local.speed.samples == before + 1
    assert local.timeout_s(3000, 512) > local.timeout_s(300, 64)


@pytest.mark.slow
def test_real_repeated_prefix_is_served_from_the_cache(local: OpenAiChatModel) -> None:
    system = ChatMessage(role="system", content="Read the contract.\n" + CONTRACT * 4)
    first = local.complete([system, ChatMessage(role="user", content="Who is the buyer?")])
    second = local.complete([system, ChatMessage(role="user", content="Who is the supplier?")])
    assert first.prompt_tokens > 150
    assert second.cached_prompt_tokens is not None
    assert second.cached_prompt_tokens >= 0.8 * first.prompt_tokens
    assert local.usage().cached_prompt_tokens >= second.cached_prompt_tokens


@pytest.mark.slow
def test_real_structured_output_validates(local: OpenAiChatModel) -> None:
    prompt = [
        ChatMessage(role="system", content="Extract facts from the contract as JSON."),
        ChatMessage(role="user", content=CONTRACT),
    ]
    facts = local.structured(prompt, ContractFacts, max_tokens=200)
    assert isinstance(facts, ContractFacts)
    assert 1 <= len(facts.parties) <= 4
    assert "delaware" in facts.governing_law.lower()


@pytest.mark.slow
def test_real_think_text_never_reaches_the_caller(local: OpenAiChatModel) -> None:
    echo = "<think>SECRET-PLAN</think>VISIBLE-ANSWER"
    prompt = [
        ChatMessage(
            role="system",
            content="Output exactly the following text, including the tags, and nothing else.",
        ),
        ChatMessage(role="user", content=f"Text: {echo}"),
    ]
    reply = local.complete(prompt, max_tokens=40)
    assert reply.reasoning_dropped  # the model did produce think text (content or field)
    assert "SECRET" not in reply.text
    assert "VISIBLE-ANSWER" in reply.text
    assert "<think>" not in reply.text
    streamed = "".join(local.stream(prompt, max_tokens=40))
    assert "SECRET" not in streamed
    assert "think>" not in streamed
    assert "VISIBLE-ANSWER" in streamed


@pytest.mark.slow
def test_real_stream_yields_text_in_pieces(local: OpenAiChatModel) -> None:
    prompt = [ChatMessage(role="user", content="Count from 1 to 10, separated by spaces.")]
    before = local.usage().requests
    pieces = list(local.stream(prompt, max_tokens=60))
    assert len(pieces) > 3
    assert "1 2 3" in "".join(pieces)
    assert local.usage().requests == before + 1
    assert local.usage().completion_tokens > 0


@pytest.mark.slow
def test_real_output_cut_by_max_tokens_is_invalid_after_one_repair(local: OpenAiChatModel) -> None:
    prompt = [ChatMessage(role="user", content=f"Extract the facts as JSON:\n{CONTRACT}")]
    before = local.usage().requests
    with pytest.raises(LlmOutputInvalid, match=r"finish_reason=length"):
        local.structured(prompt, ContractFacts, max_tokens=6)
    assert local.usage().requests == before + 2  # first attempt + one repair, no more
