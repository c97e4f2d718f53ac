"""Chat model over any OpenAI-compatible server (vLLM in production, llama.cpp's llama-server
locally), through langchain-openai's ChatOpenAI. The only module importing langchain-openai.

Per request: thinking on or off through `chat_template_kwargs` with Qwen's sampling for
the mode; reasoning removed (reasoning fields ignored, `<think>` blocks stripped, also in
streams); structured output through `response_format` json_schema, validated with
pydantic and repaired once (services/adapters/llm_messages.py). Around requests: bounded
retries with timeouts that follow the model's measured speed, openai errors converted to
`pipelines.errors` (services/adapters/llm_retries.py), and a semaphore of `max_concurrency`
requests (set it to what the server runs at once).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import httpx
import openai
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_openai import ChatOpenAI  # noqa: TID251 (this is the one module allowed)
from pydantic import SecretStr

from pipelines.errors import DocsightError, LlmUnavailable
from pipelines.llm_text import ModelT, ThinkFilter, request_structured, schema_response_format
from pipelines.models import ChatMessage, Completion, LlmUsage
from services.adapters.llm_messages import request_kwargs, to_completion, to_langchain
from services.adapters.llm_retries import convert_error, retry_request
from services.adapters.llm_speed import Throughput, TimeoutPolicy, estimate_prompt_tokens
from services.adapters.retry import Backoff

log = logging.getLogger(__name__)
T = TypeVar("T")
LlmObserver = Callable[[str, float, Completion | None], None]
"""Told of each request: model name, seconds (retries included), its completion or None
when it failed. The service records metrics through it (no Prometheus import here)."""


def _field(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


class _ChatOpenAIKeepingExtras(ChatOpenAI):
    """ChatOpenAI noting what it drops from OpenAI-compatible servers: that reasoning
    arrived (`reasoning` / `reasoning_content`, whose text is never kept) and llama.cpp's
    `timings` (its prompt-cache count when `cached_tokens` is missing)."""

    def _create_chat_result(
        self, response: Any, generation_info: dict[str, Any] | None = None
    ) -> ChatResult:
        result = super()._create_chat_result(response, generation_info)
        choices = _field(response, "choices") or []
        message = _field(choices[0], "message") if choices else None
        if message is not None and result.generations:
            out = result.generations[0].message
            if _field(message, "reasoning_content") or _field(message, "reasoning"):
                out.additional_kwargs["reasoning_dropped"] = True
            timings = _field(response, "timings")
            if isinstance(timings, dict):
                out.response_metadata["timings"] = timings
        return result

    def _convert_chunk_to_generation_chunk(
        self, chunk: dict[str, Any], *args: Any, **kwargs: Any
    ) -> ChatGenerationChunk | None:
        generation = super()._convert_chunk_to_generation_chunk(chunk, *args, **kwargs)
        timings = chunk.get("timings")
        if generation is not None and isinstance(timings, dict):
            generation.message.response_metadata["timings"] = timings
        return generation


class OpenAiChatModel:
    """`pipelines.ports.ChatModel` over an OpenAI-compatible `/v1` base URL."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str = "not-needed",
        timeout_s: float = 120.0,
        timeout_min_s: float = 30.0,
        timeout_factor: float = 3.0,
        speed: Throughput | None = None,
        connect_timeout_s: float = 5.0,
        max_retries: int = 2,
        backoff_s: float = 0.5,
        max_backoff_s: float = 8.0,
        max_concurrency: int = 4,
        max_tokens: int = 1024,
        seed: int | None = None,
        strict_schema: bool = True,
        observer: LlmObserver | None = None,
    ) -> None:
        if max_concurrency < 1 or max_retries < 0 or max_tokens < 1:
            raise ValueError("max_concurrency and max_tokens >= 1, max_retries >= 0")
        self.base_url = base_url.rstrip("/")
        self._model = model
        self._policy = TimeoutPolicy(timeout_factor, min(timeout_min_s, timeout_s), timeout_s)
        self.speed = speed or Throughput(50.0, 10.0)
        """Measured prompt and generation speed; request timeouts derive from it."""
        self._connect_timeout_s = connect_timeout_s
        self._backoff = Backoff(max_retries, backoff_s, max_backoff_s)
        self._max_tokens = max_tokens
        self._strict = strict_schema
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self._lock = threading.Lock()
        self._usage = LlmUsage()
        self.observer = observer
        self._chat = _ChatOpenAIKeepingExtras(
            model=model,
            base_url=self.base_url,
            api_key=SecretStr(api_key),
            timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
            max_retries=0,  # retried here, with our bounds and error conversion
            seed=seed,
            stream_usage=True,
        )

    @property
    def name(self) -> str:
        return self._model

    def usage(self) -> LlmUsage:
        with self._lock:
            return self._usage.model_copy()

    def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        thinking: bool = False,
        max_tokens: int | None = None,
        cache_salt: str | None = None,
    ) -> Completion:
        """One reply, reasoning removed, with its token usage."""
        return self._complete(list(messages), thinking, max_tokens, cache_salt, None)

    def structured(
        self,
        messages: Sequence[ChatMessage],
        schema: type[ModelT],
        *,
        thinking: bool = False,
        max_tokens: int | None = None,
        cache_salt: str | None = None,
    ) -> ModelT:
        """A reply constrained by and validated against `schema`; one repair, then
        LlmOutputInvalid."""
        response_format = schema_response_format(schema, strict=self._strict)

        def call(prompt: list[ChatMessage]) -> Completion:
            return self._complete(prompt, thinking, max_tokens, cache_salt, response_format)

        return request_structured(call, messages, schema)

    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        thinking: bool = False,
        max_tokens: int | None = None,
        cache_salt: str | None = None,
    ) -> Iterator[str]:
        """Text deltas with think blocks filtered out. A failure before the first delta is
        retried; one after it raises LlmUnavailable (text already sent is not repeated)."""
        kwargs = request_kwargs(thinking, max_tokens or self._max_tokens, cache_salt, None)
        size = (estimate_prompt_tokens(messages), kwargs["max_tokens"])
        return self._stream(to_langchain(messages), kwargs, size)

    def _complete(
        self,
        messages: list[ChatMessage],
        thinking: bool,
        max_tokens: int | None,
        cache_salt: str | None,
        response_format: dict[str, object] | None,
    ) -> Completion:
        limit = max_tokens or self._max_tokens
        kwargs = request_kwargs(thinking, limit, cache_salt, response_format)
        prompt = to_langchain(messages)
        size = (estimate_prompt_tokens(messages), kwargs["max_tokens"])

        def invoke(timeout_s: float) -> Completion:
            started = time.perf_counter()
            message: BaseMessage
            try:
                message = self._chat.invoke(prompt, timeout=self._timeout(timeout_s), **kwargs)
                finish = None
            except openai.LengthFinishReasonError as exc:  # the parse path refuses "length"
                message = self._chat._create_chat_result(exc.completion).generations[0].message
                finish = "length"
            completion = to_completion(message, finish)
            self._learn(completion, message, time.perf_counter() - started)
            return completion

        with self._slots:
            started = time.perf_counter()
            try:
                completion = self._with_retries(invoke, size)
            except DocsightError:
                self._observe(started, None)
                raise
        self._count(completion)
        self._observe(started, completion)
        return completion

    def _stream(
        self, prompt: list[BaseMessage], kwargs: dict[str, Any], size: tuple[int, int]
    ) -> Iterator[str]:
        with self._slots:
            started = time.perf_counter()
            try:
                chunks, chunk = self._with_retries(
                    lambda timeout_s: self._open_stream(prompt, kwargs, timeout_s), size
                )
            except DocsightError:
                self._observe(started, None)
                raise
            visible = ThinkFilter()
            total: AIMessageChunk | None = None
            try:
                while chunk is not None:
                    total = chunk if total is None else total + chunk
                    content = chunk.content if isinstance(chunk.content, str) else ""
                    text = visible.feed(content)
                    if text:
                        yield text
                    chunk = next(chunks, None)
                rest = visible.finish()
                if rest:
                    yield rest
            except openai.OpenAIError as exc:
                ceiling_s = self._policy.ceiling_s
                raise convert_error(
                    exc, self.base_url, waited_s=ceiling_s, mid_stream=True
                ) from exc
            except httpx.HTTPError as exc:
                raise LlmUnavailable(f"the connection to the LLM broke mid-answer: {exc}") from exc
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()
                done = to_completion(total) if total is not None else None
                if done is not None and total is not None:
                    self._count(done)
                    timings = total.response_metadata.get("timings")
                    if isinstance(timings, dict):  # wall time includes the reader's pauses
                        self.speed.observe(
                            prompt_tokens=0, output_tokens=0, seconds=0, timings=timings
                        )
                self._observe(started, done)

    def _open_stream(
        self, prompt: list[BaseMessage], kwargs: dict[str, Any], timeout_s: float
    ) -> tuple[Iterator[AIMessageChunk], AIMessageChunk | None]:
        chunks: Iterator[AIMessageChunk] = iter(
            self._chat.stream(prompt, timeout=self._timeout(timeout_s), **kwargs)
        )
        return chunks, next(chunks, None)

    def _timeout(self, timeout_s: float) -> httpx.Timeout:
        return httpx.Timeout(timeout_s, connect=min(self._connect_timeout_s, timeout_s))

    def timeout_s(self, prompt_tokens: int, max_tokens: int, attempt: int = 0) -> float:
        """The timeout a request of this size gets now (`attempt` timeouts before it)."""
        return self._policy.timeout_s(self.speed, prompt_tokens, max_tokens, attempt)

    def _learn(self, completion: Completion, message: BaseMessage, seconds: float) -> None:
        timings = message.response_metadata.get("timings")
        self.speed.observe(
            prompt_tokens=completion.prompt_tokens - (completion.cached_prompt_tokens or 0),
            output_tokens=completion.completion_tokens,
            seconds=seconds,
            timings=timings if isinstance(timings, dict) else None,
        )

    def _with_retries(self, attempt: Callable[[float], T], size: tuple[int, int]) -> T:
        return retry_request(
            attempt,
            size,
            policy=self._policy,
            speed=self.speed,
            backoff=self._backoff,
            where=self.base_url,
            log=log,
        )

    def _observe(self, started: float, completion: Completion | None) -> None:
        if self.observer is None:
            return
        try:
            self.observer(self._model, time.perf_counter() - started, completion)
        except Exception:  # noqa: BLE001 - metrics never break a request
            log.exception("LLM observer failed")

    def _count(self, completion: Completion) -> None:
        with self._lock:
            self._usage.requests += 1
            self._usage.prompt_tokens += completion.prompt_tokens
            self._usage.completion_tokens += completion.completion_tokens
            self._usage.cached_prompt_tokens += completion.cached_prompt_tokens or 0
