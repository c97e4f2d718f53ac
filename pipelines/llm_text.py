"""Text that comes back from a chat model: reasoning removed, JSON found, schemas validated.

Pure functions shared by every `ChatModel` (the real adapter and the fake): `<think>` blocks
never reach a user or a parser, and a structured reply is validated with pydantic and
repaired once before `LlmOutputInvalid` is raised.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from pipelines.errors import LlmOutputInvalid
from pipelines.models import ChatMessage, Completion

ModelT = TypeVar("ModelT", bound=BaseModel)

OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"
_BLOCK = re.compile(r"<think>.*?</think>", re.DOTALL)
_FENCE = re.compile(r"```[A-Za-z]*[ \t]*\n?(.*?)```", re.DOTALL)
_MAX_JSON_STARTS = 64
_MAX_ECHO_CHARS = 2000


def strip_think(text: str) -> str:
    """`text` without reasoning: `<think>...</think>` blocks, an unterminated `<think>` and
    everything after it, and everything before an orphan leading `</think>` (a template
    that opened the block inside the prompt). Surrounding whitespace is trimmed."""
    close = text.find(CLOSE_TAG)
    open_ = text.find(OPEN_TAG)
    if close >= 0 and (open_ < 0 or close < open_):
        text = text[close + len(CLOSE_TAG) :]
    text = _BLOCK.sub("", text)
    open_ = text.find(OPEN_TAG)
    if open_ >= 0:
        text = text[:open_]
    return text.replace(CLOSE_TAG, "").strip()


def _held_suffix(text: str) -> int:
    """Length of the longest suffix of `text` that could start a think tag."""
    for size in range(min(len(text), len(CLOSE_TAG) - 1), 0, -1):
        tail = text[-size:]
        if OPEN_TAG.startswith(tail) or CLOSE_TAG.startswith(tail):
            return size
    return 0


class ThinkFilter:
    """Removes `<think>` blocks from a stream of text deltas, tags split across deltas
    included. Text that could begin a tag is held back until the next delta decides.

    An orphan `</think>` is dropped but text streamed before it cannot be taken back:
    servers with a reasoning parser (vLLM `--reasoning-parser qwen3`) never send one.
    """

    def __init__(self) -> None:
        self._buffer = ""
        self._inside = False
        self._started = False

    def feed(self, delta: str) -> str:
        """The visible part of `delta` (possibly empty)."""
        self._buffer += delta
        out: list[str] = []
        while True:
            if self._inside:
                close = self._buffer.find(CLOSE_TAG)
                if close < 0:
                    keep = _held_suffix(self._buffer)
                    self._buffer = self._buffer[len(self._buffer) - keep :]
                    break
                self._buffer = self._buffer[close + len(CLOSE_TAG) :]
                self._inside = False
                continue
            open_ = self._buffer.find(OPEN_TAG)
            close = self._buffer.find(CLOSE_TAG)
            if close >= 0 and (open_ < 0 or close < open_):
                out.append(self._buffer[:close])
                self._buffer = self._buffer[close + len(CLOSE_TAG) :]
                continue
            if open_ >= 0:
                out.append(self._buffer[:open_])
                self._buffer = self._buffer[open_ + len(OPEN_TAG) :]
                self._inside = True
                continue
            keep = _held_suffix(self._buffer)
            out.append(self._buffer[: len(self._buffer) - keep])
            self._buffer = self._buffer[len(self._buffer) - keep :]
            break
        return self._visible("".join(out))

    def finish(self) -> str:
        """Whatever was held back and turned out to be text; an unterminated block is dropped."""
        rest = "" if self._inside else self._buffer
        self._buffer = ""
        return self._visible(rest)

    def _visible(self, text: str) -> str:
        if not self._started:
            text = text.lstrip()
            self._started = bool(text)
        return text


def filter_think_stream(deltas: Sequence[str]) -> str:
    """All visible text of a sequence of deltas (a helper for fakes and tests)."""
    stream = ThinkFilter()
    return "".join(stream.feed(delta) for delta in deltas) + stream.finish()


def _first_object(text: str) -> dict[str, object] | None:
    decoder = json.JSONDecoder()
    start = text.find("{")
    tries = 0
    while start >= 0 and tries < _MAX_JSON_STARTS:
        try:
            value, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            value = None
        if isinstance(value, dict):
            return value
        start = text.find("{", start + 1)
        tries += 1
    return None


def parse_json_object(text: str) -> dict[str, object]:
    """The first JSON object in a reply: reasoning removed, inside a code fence or after
    leading prose. Raises ValueError when there is no complete object."""
    visible = strip_think(text)
    for candidate in [*(m.group(1) for m in _FENCE.finditer(visible)), visible]:
        found = _first_object(candidate)
        if found is not None:
            return found
    if not visible:
        raise ValueError("the reply is empty")
    raise ValueError("the reply holds no complete JSON object")


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False)[:10]:
        where = ".".join(str(part) for part in item["loc"]) or "(root)"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def validate_reply(completion: Completion, schema: type[ModelT]) -> ModelT:
    """The reply as an instance of `schema`, or ValueError saying what is wrong with it."""
    if not completion.text.strip() and completion.reasoning_dropped:
        raise ValueError(
            "the reply is empty: the server put its output in the reasoning field "
            "(thinking on, or a reasoning parser that captured the JSON)"
        )
    try:
        data = parse_json_object(completion.text)
        return schema.model_validate(data)
    except ValidationError as exc:
        problem = f"the JSON does not match the schema: {_describe(exc)}"
    except ValueError as exc:
        problem = str(exc)
    if completion.finish_reason == "length":
        problem = (
            "the reply was cut off at the output token limit (finish_reason=length) "
            f"before the JSON ended ({problem})"
        )
    raise ValueError(problem)


def repair_messages(
    messages: Sequence[ChatMessage], bad_reply: str, problem: str
) -> list[ChatMessage]:
    """`messages` followed by the bad reply and a request to fix it (the error sent back)."""
    echoed = strip_think(bad_reply)[:_MAX_ECHO_CHARS] or "(empty)"
    instruction = (
        f"Your reply was not valid: {problem}. Reply again with only one compact JSON "
        "object that matches the schema: no prose, no code fence, no padding."
    )
    return [
        *messages,
        ChatMessage(role="assistant", content=echoed),
        ChatMessage(role="user", content=instruction),
    ]


def request_structured(
    call: Callable[[list[ChatMessage]], Completion],
    messages: Sequence[ChatMessage],
    schema: type[ModelT],
    *,
    repairs: int = 1,
) -> ModelT:
    """Ask through `call` until a reply validates against `schema`: the first attempt, then
    up to `repairs` retries that send the validation error back. Raises LlmOutputInvalid."""
    prompt = list(messages)
    problem = "no attempt made"
    for _ in range(repairs + 1):
        completion = call(prompt)
        try:
            return validate_reply(completion, schema)
        except ValueError as exc:
            problem = str(exc)
        prompt = repair_messages(messages, completion.text, problem)
    raise LlmOutputInvalid(
        f"the model gave no valid {schema.__name__} after {repairs} repair attempt(s): {problem}"
    )


def schema_response_format(schema: type[BaseModel], *, strict: bool = True) -> dict[str, object]:
    """OpenAI `response_format` for `schema` (vLLM and llama-server accept it too)."""
    name = re.sub(r"[^A-Za-z0-9_-]", "_", schema.__name__)[:64] or "reply"
    return {
        "type": "json_schema",
        "json_schema": {"name": name, "schema": schema.model_json_schema(), "strict": strict},
    }
