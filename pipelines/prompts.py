"""Text shared by the analysis prompts (summaries, risks, answers), and small prompt helpers.

Every analysis of a document packs it with the same `ANALYST_INSTRUCTIONS` as system
message, so that the system message and the document text (the prompt's prefix) are
byte-identical between a summary, a risk extraction, a question and any other task over
the same passages: vLLM's prefix cache (and llama-server's slot cache) then evaluates them
once. What differs per task (its rules, the language to write in, the reply shape, the
question) goes in the task text, after the documents. A question over a document that fits
the budget packs the whole document (`pipelines.answers.whole_document_candidates`), so
its documents are the summary's too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from pipelines.models import ChatMessage, Chunk
from pipelines.ports import TokenCounter

Language = Literal["zh", "en"]

ANALYST_INSTRUCTIONS = (
    "You are a careful analyst of contracts and financial reports. You work only from the "
    "documents given to you: never add facts from memory, never guess. Be brief and exact; "
    "keep names, amounts, dates and percentages as the documents write them."
)

_GENERATION_PROMPT = "<|im_start|>assistant\n<think>\n\n</think>\n\n"
_CJK_SHARE_FOR_CHINESE = 0.2
_SAMPLE_CHARS = 40_000


def chat_messages(messages: Sequence[Mapping[str, str]]) -> list[ChatMessage]:
    """OpenAI-style dicts (as `PackedContext.messages`) -> ChatMessage values."""
    return [ChatMessage.model_validate(dict(message)) for message in messages]


def prompt_tokens(messages: Sequence[ChatMessage], counter: TokenCounter) -> int:
    """Exact tokens of `messages` rendered as Qwen3's ChatML prompt with thinking off (the
    same rendering `pipelines.context` counts)."""
    rendered = "".join(f"<|im_start|>{m.role}\n{m.content}<|im_end|>\n" for m in messages)
    return counter.count(rendered + _GENERATION_PROMPT)


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0xF900 <= code <= 0xFAFF
        or 0x20000 <= code <= 0x2FFFF
    )


def detect_language(chunks: Sequence[Chunk]) -> Language:
    """ "zh" when CJK ideographs make at least a fifth of the letters of the text (its first
    ~40,000 characters), else "en". Digits, punctuation and spaces are not counted, so a
    Chinese annual report full of figures and English terms is still Chinese."""
    cjk = latin = seen = 0
    for chunk in chunks:
        for char in chunk.text:
            if _is_cjk(char):
                cjk += 1
            elif char.isascii() and char.isalpha():
                latin += 1
        seen += len(chunk.text)
        if seen >= _SAMPLE_CHARS:
            break
    letters = cjk + latin
    return "zh" if letters and cjk / letters >= _CJK_SHARE_FOR_CHINESE else "en"


def language_rule(language: Language) -> str:
    """The instruction naming the language to write in."""
    if language == "zh":
        return (
            "The document is in Chinese: write every text value in Simplified Chinese "
            "(请用简体中文撰写所有文字内容)."
        )
    return "Write every text value in English."
