"""What the LLM adapter (services/adapters/llm.py) sends and keeps: the sampling of each
thinking mode and the request's keyword arguments, our chat messages as langchain's, and a
reply as a `Completion` with its reasoning removed (`<think>` blocks stripped; that some
was dropped is noted) and its token usage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from pipelines.llm_text import strip_think
from pipelines.models import ChatMessage, Completion


@dataclass(frozen=True)
class Sampling:
    temperature: float
    top_p: float
    top_k: int


# Qwen's advice; never greedy with thinking on.
THINKING = Sampling(temperature=0.6, top_p=0.95, top_k=20)
NON_THINKING = Sampling(temperature=0.7, top_p=0.8, top_k=20)


def request_kwargs(
    thinking: bool,
    max_tokens: int,
    cache_salt: str | None,
    response_format: dict[str, object] | None,
) -> dict[str, Any]:
    """ChatOpenAI's keyword arguments for one request: thinking on or off through
    `chat_template_kwargs` with Qwen's sampling for the mode."""
    sampling = THINKING if thinking else NON_THINKING
    extra: dict[str, Any] = {
        "chat_template_kwargs": {"enable_thinking": thinking},
        "top_k": sampling.top_k,
        "max_tokens": max_tokens,  # servers that predate max_completion_tokens read this
    }
    if cache_salt:
        extra["cache_salt"] = cache_salt
    kwargs: dict[str, Any] = {
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "max_tokens": max_tokens,
        "extra_body": extra,
    }
    if response_format is not None:
        kwargs["response_format"] = response_format
    return kwargs


def to_langchain(messages: Sequence[ChatMessage]) -> list[BaseMessage]:
    kinds = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
    return [kinds[m.role](content=m.content) for m in messages]


def _cached_tokens(message: BaseMessage) -> int | None:
    usage = getattr(message, "usage_metadata", None) or {}
    cached = (usage.get("input_token_details") or {}).get("cache_read")
    if cached is None:
        cached = (message.response_metadata.get("timings") or {}).get("cache_n")
    return int(cached) if cached is not None else None


def to_completion(message: BaseMessage, finish_reason: str | None = None) -> Completion:
    usage = getattr(message, "usage_metadata", None) or {}
    raw = message.content if isinstance(message.content, str) else str(message.content)
    return Completion(
        text=strip_think(raw),
        prompt_tokens=usage.get("input_tokens", 0),
        completion_tokens=usage.get("output_tokens", 0),
        cached_prompt_tokens=_cached_tokens(message),
        finish_reason=finish_reason or message.response_metadata.get("finish_reason"),
        reasoning_dropped=bool(message.additional_kwargs.get("reasoning_dropped"))
        or "<think>" in raw
        or "</think>" in raw,
    )
