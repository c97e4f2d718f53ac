"""Reasoning stripping, JSON extraction and one-repair validation of LLM replies."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from pipelines.errors import LlmOutputInvalid, LlmUnavailable
from pipelines.llm_text import (
    ThinkFilter,
    filter_think_stream,
    parse_json_object,
    request_structured,
    schema_response_format,
    strip_think,
    validate_reply,
)
from pipelines.models import ChatMessage, Completion
from services.adapters.llm_fake import FakeChatModel


class Party(BaseModel):
    name: str
    role: str


class Parties(BaseModel):
    parties: list[Party]


GOOD = '{"parties": [{"name": "Acme", "role": "supplier"}]}'
PROMPT = [ChatMessage(role="user", content="Who are the parties?")]


@pytest.mark.parametrize(
    ("raw", "visible"),
    [
        ("<think>reasoning</think>\n\nThe answer.", "The answer."),
        ("<think>\nmulti\nline\n</think>A<think>more</think>B", "AB"),
        ("<think>never closed, cut off at the limit", ""),
        ("Answer first.<think>then an unterminated block", "Answer first."),
        ("reasoning opened by the template</think>\nThe answer.", "The answer."),
        ("<think></think>", ""),
        ("No reasoning at all.", "No reasoning at all."),
        ("a < b and c > d, <thin> is not a tag", "a < b and c > d, <thin> is not a tag"),
    ],
)
def test_strip_think(raw: str, visible: str) -> None:
    assert strip_think(raw) == visible


def test_stream_filter_removes_tags_split_across_deltas() -> None:
    text = "<think>secret plan</think>Hello <think>more secret</think>world"
    for size in range(1, len(text) + 1):
        deltas = [text[i : i + size] for i in range(0, len(text), size)]
        assert filter_think_stream(deltas) == "Hello world", size


def test_stream_filter_drops_unterminated_block_and_keeps_lookalikes() -> None:
    assert filter_think_stream(["Answer. <thi", "nk>reasoning that never ends"]) == "Answer. "
    assert filter_think_stream(["x <th", "ing> y <", "/b>"]) == "x <thing> y </b>"
    assert filter_think_stream(["ends with <", "/thi"]) == "ends with </thi"


def test_stream_filter_yields_text_before_the_stream_ends() -> None:
    stream = ThinkFilter()
    assert stream.feed("<think>x</think>\n\nHel") == "Hel"
    assert stream.feed("lo") == "lo"
    assert stream.finish() == ""


@pytest.mark.parametrize(
    "reply",
    [
        GOOD,
        f"```json\n{GOOD}\n```",
        f"Here is the JSON you asked for:\n{GOOD}\nHope this helps.",
        f"<think>{{'not': 'this'}}</think>{GOOD}",
        f"Prose with {{braces}} first, then {GOOD}",
    ],
)
def test_parse_json_object_finds_the_object(reply: str) -> None:
    assert parse_json_object(reply) == {"parties": [{"name": "Acme", "role": "supplier"}]}


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        ("", "empty"),
        ("<think>only reasoning</think>", "empty"),
        ('{"parties": [{"name": "Ac', "no complete JSON object"),
        ("[1, 2, 3]", "no complete JSON object"),
    ],
)
def test_parse_json_object_says_what_is_wrong(reply: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_json_object(reply)


def test_validate_reply_reports_schema_errors_length_and_reasoning_field() -> None:
    with pytest.raises(ValueError, match=r"parties\.0\.role: Field required"):
        validate_reply(Completion(text='{"parties": [{"name": "A"}]}'), Parties)
    with pytest.raises(ValueError, match="finish_reason=length"):
        validate_reply(Completion(text='{"parties": [  ', finish_reason="length"), Parties)
    with pytest.raises(ValueError, match="reasoning field"):
        validate_reply(Completion(text="", reasoning_dropped=True), Parties)
    # A complete object is accepted even when whitespace padding then hit the limit.
    padded = Completion(text=GOOD + " " * 50, finish_reason="length")
    assert validate_reply(padded, Parties).parties[0].name == "Acme"


def test_request_structured_repairs_once_with_the_error_sent_back() -> None:
    prompts: list[list[ChatMessage]] = []
    replies = iter(['{"parties": [{"name": "Acme"}]}', GOOD])

    def call(prompt: list[ChatMessage]) -> Completion:
        prompts.append(prompt)
        return Completion(text=next(replies))

    result = request_structured(call, PROMPT, Parties)
    assert result == Parties(parties=[Party(name="Acme", role="supplier")])
    assert len(prompts) == 2
    assert prompts[0] == PROMPT
    assert [m.role for m in prompts[1]] == ["user", "assistant", "user"]
    assert prompts[1][1].content == '{"parties": [{"name": "Acme"}]}'
    assert "parties.0.role: Field required" in prompts[1][2].content


def test_request_structured_gives_up_after_one_repair() -> None:
    calls = 0

    def call(prompt: list[ChatMessage]) -> Completion:
        nonlocal calls
        calls += 1
        return Completion(text='{"parties": [' + " " * 20, finish_reason="length")

    with pytest.raises(LlmOutputInvalid, match=r"no valid Parties after 1 repair.*length"):
        request_structured(call, PROMPT, Parties)
    assert calls == 2


def test_schema_response_format_is_openai_json_schema() -> None:
    fmt = schema_response_format(Parties)
    assert fmt["type"] == "json_schema"
    spec = fmt["json_schema"]
    assert isinstance(spec, dict)
    assert spec["name"] == "Parties"
    assert spec["strict"] is True
    assert spec["schema"] == Parties.model_json_schema()


def test_fake_chat_model_shares_the_text_handling() -> None:
    fake = FakeChatModel(
        [
            "<think>hidden</think>Visible answer.",
            "<think>plan</think>Streamed <think>x</think>answer.",
            "not json at all",
            f"```json\n{GOOD}\n```",
        ]
    )
    assert fake.complete(PROMPT).text == "Visible answer."
    assert "".join(fake.stream(PROMPT, thinking=True)) == "Streamed answer."
    assert fake.structured(PROMPT, Parties, cache_salt="tenant-a").parties[0].role == "supplier"
    assert [call.kind for call in fake.calls] == ["complete", "stream", "structured", "structured"]
    assert fake.calls[1].thinking is True
    assert fake.calls[3].cache_salt == "tenant-a"
    assert "no complete JSON object" in fake.calls[3].messages[-1].content
    assert fake.usage().requests == 4


def test_fake_chat_model_unavailable_and_exhausted() -> None:
    with pytest.raises(LlmUnavailable, match="no LLM reachable"):
        FakeChatModel(unavailable=True).complete(PROMPT)
    with pytest.raises(AssertionError, match="no scripted reply"):
        FakeChatModel().complete(PROMPT)
    echo = FakeChatModel(responder=lambda messages: messages[-1].content.upper())
    assert echo.complete(PROMPT).text == "WHO ARE THE PARTIES?"
