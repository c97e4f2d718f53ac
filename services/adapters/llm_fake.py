"""Scripted chat model for unit tests of the domain: no server, same text handling."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from pipelines.errors import LlmUnavailable
from pipelines.llm_text import ModelT, ThinkFilter, request_structured, strip_think
from pipelines.models import ChatMessage, Completion, LlmUsage

Reply = str | Completion
Responder = Callable[[list[ChatMessage]], Reply]


@dataclass(frozen=True)
class FakeCall:
    """One request the fake received."""

    kind: str
    messages: list[ChatMessage]
    thinking: bool
    max_tokens: int | None
    cache_salt: str | None
    schema: str | None = None


class FakeChatModel:
    """A `ChatModel` answering from a script: queued replies first (strings, or Completions
    to script a finish_reason), then `responder(messages)` if given. Replies go through the
    same think-stripping, JSON parsing and one-repair validation as the real adapter; every
    request is recorded in `calls`. With `unavailable=True` every call raises LlmUnavailable.
    """

    def __init__(
        self,
        replies: Iterable[Reply] = (),
        *,
        responder: Responder | None = None,
        name: str = "fake-llm",
        stream_piece_chars: int = 5,
        unavailable: bool = False,
    ) -> None:
        self._replies: deque[Reply] = deque(replies)
        self._responder = responder
        self._name = name
        self._piece = max(1, stream_piece_chars)
        self.unavailable = unavailable
        self.calls: list[FakeCall] = []
        self._usage = LlmUsage()

    @property
    def name(self) -> str:
        return self._name

    def add_replies(self, *replies: Reply) -> None:
        """Queue more scripted replies."""
        self._replies.extend(replies)

    def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        thinking: bool = False,
        max_tokens: int | None = None,
        cache_salt: str | None = None,
    ) -> Completion:
        """The next scripted reply, reasoning removed."""
        return self._answer("complete", list(messages), thinking, max_tokens, cache_salt)

    def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        thinking: bool = False,
        max_tokens: int | None = None,
        cache_salt: str | None = None,
    ) -> Iterator[str]:
        """The next scripted reply in pieces of a few characters, think blocks filtered."""
        raw = self._raw("stream", list(messages), thinking, max_tokens, cache_salt)
        text = raw.text if isinstance(raw, Completion) else raw
        return self._pieces(text)

    def structured(
        self,
        messages: Sequence[ChatMessage],
        schema: type[ModelT],
        *,
        thinking: bool = False,
        max_tokens: int | None = None,
        cache_salt: str | None = None,
    ) -> ModelT:
        """The next scripted reply validated against `schema` (one repair from the script)."""

        def call(prompt: list[ChatMessage]) -> Completion:
            return self._answer(
                "structured", prompt, thinking, max_tokens, cache_salt, schema.__name__
            )

        return request_structured(call, messages, schema)

    def usage(self) -> LlmUsage:
        return self._usage.model_copy()

    def _pieces(self, text: str) -> Iterator[str]:
        stream = ThinkFilter()
        for start in range(0, len(text), self._piece):
            visible = stream.feed(text[start : start + self._piece])
            if visible:
                yield visible
        rest = stream.finish()
        if rest:
            yield rest

    def _raw(
        self,
        kind: str,
        messages: list[ChatMessage],
        thinking: bool,
        max_tokens: int | None,
        cache_salt: str | None,
        schema: str | None = None,
    ) -> Reply:
        self.calls.append(FakeCall(kind, messages, thinking, max_tokens, cache_salt, schema))
        if self.unavailable:
            raise LlmUnavailable("no LLM reachable at fake://unavailable")
        if self._replies:
            reply = self._replies.popleft()
        elif self._responder is not None:
            reply = self._responder(messages)
        else:
            raise AssertionError("FakeChatModel has no scripted reply left")
        prompt_tokens = sum(len(m.content.split()) for m in messages)
        text = reply.text if isinstance(reply, Completion) else reply
        self._usage.requests += 1
        self._usage.prompt_tokens += prompt_tokens
        self._usage.completion_tokens += len(text.split())
        return reply

    def _answer(
        self,
        kind: str,
        messages: list[ChatMessage],
        thinking: bool,
        max_tokens: int | None,
        cache_salt: str | None,
        schema: str | None = None,
    ) -> Completion:
        reply = self._raw(kind, messages, thinking, max_tokens, cache_salt, schema)
        if isinstance(reply, Completion):
            return reply.model_copy(update={"text": strip_think(reply.text)})
        return Completion(
            text=strip_think(reply),
            prompt_tokens=sum(len(m.content.split()) for m in messages),
            completion_tokens=len(reply.split()),
            finish_reason="stop",
            reasoning_dropped="<think>" in reply or "</think>" in reply,
        )
