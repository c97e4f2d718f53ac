"""Scored chunks -> a chat prompt that fits the token budget, laid out for vLLM's prefix cache.

The passages packed are chosen here (the best-ranked that fit, or a whole document in
parts); how the prompt is laid out and neutralised is in `pipelines.prompt_layout`.

Tokens are counted exactly on the rendered ChatML prompt (Qwen3's template, thinking off:
`<think>\\n\\n</think>\\n\\n` after the assistant header, a few tokens more than thinking
on), and the prompt never exceeds `Budget.prompt_limit`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import groupby

from pipelines.errors import PromptTooLong
from pipelines.models import Chunk, ScoredChunk
from pipelines.ports import TokenCounter
from pipelines.prompt_layout import PackedContext, PromptLayout, part_note
from pipelines.retrieval import remove_overlaps, trim

__all__ = ["Budget", "PackedContext", "pack_context", "pack_document"]


@dataclass(frozen=True)
class Budget:
    """Token limits of one request: the model's window, room kept for the answer, the most
    prompt tokens allowed (production 32,768 / 4,096 / 28,672; a small local model a few K)."""

    max_model_len: int
    max_output_tokens: int
    max_prompt_tokens: int

    def __post_init__(self) -> None:
        if self.max_output_tokens < 1 or self.prompt_limit < 1:
            raise ValueError(f"budget leaves no room for a prompt and an answer: {self}")

    @property
    def prompt_limit(self) -> int:
        """Most prompt tokens: the prompt budget, capped so the answer still fits."""
        return min(self.max_prompt_tokens, self.max_model_len - self.max_output_tokens)


def pack_context(
    instructions: str,
    candidates: Sequence[ScoredChunk],
    question: str,
    *,
    counter: TokenCounter,
    budget: Budget,
    titles: Mapping[str, str] | None = None,
) -> PackedContext:
    """Pack the best candidates that fit, laid out in document-and-page order.

    Overlapping candidates are trimmed first (`remove_overlaps`). When they do not all
    fit, the lowest-scored are dropped first: the packed set is always the best-ranked
    prefix that fits. Raises `PromptTooLong` when the instructions and question alone
    exceed the budget. `titles` (document id -> file name) label the documents.
    """
    ranked = remove_overlaps(candidates)
    layout = PromptLayout(instructions, question, titles or {}, counter)
    limit = budget.prompt_limit
    fixed = layout.count([])
    if fixed > limit:
        raise PromptTooLong(f"instructions and question take {fixed} tokens, limit {limit}")
    chunks = [scored.chunk for scored in ranked]
    take = _fitting_prefix(chunks, layout, limit - fixed)
    while True:  # estimates add up pieces; the exact count of the whole decides
        packed = layout.pack(chunks[:take], budget.max_output_tokens)
        if packed.prompt_tokens <= limit or take == 0:
            return replace(packed, dropped=len(chunks) - take)
        take -= 1


def pack_document(
    instructions: str,
    chunks: Sequence[Chunk],
    task: str,
    *,
    counter: TokenCounter,
    budget: Budget,
    title: str | None = None,
) -> list[PackedContext]:
    """A whole document (all its chunks) as one prompt if it fits, else as parts for
    map-reduce: consecutive top-level sections are grouped while they fit, a section too
    long for one part is cut between chunks. Every part is laid out like `pack_context`
    (`part_note` before the task) and fits the budget. Overlaps are trimmed in
    document order. Raises `PromptTooLong` when the instructions and task alone exceed it.
    """
    ordered = _sequential(chunks)
    titles = {c.document_id: title for c in ordered[:1] if title}
    layout = PromptLayout(instructions, task, titles, counter)
    limit = budget.prompt_limit
    fixed = layout.count([])
    if fixed > limit:
        raise PromptTooLong(f"instructions and task take {fixed} tokens, limit {limit}")
    whole = layout.pack(ordered, budget.max_output_tokens)
    if whole.prompt_tokens <= limit:
        return [whole]
    room = limit - fixed - counter.count(part_note(99, 99) + "\n")
    while True:
        groups = _split(ordered, layout, room)
        packs = [
            layout.pack(group, budget.max_output_tokens, part=(n, len(groups)))
            for n, group in enumerate(groups, 1)
        ]
        excess = max(p.prompt_tokens for p in packs) - limit
        if excess <= 0:
            return packs
        room -= max(excess, 8)
        if room <= 0:
            raise PromptTooLong(f"a chunk of the document does not fit in {limit} tokens")


def _fitting_prefix(chunks: Sequence[Chunk], layout: PromptLayout, room: int) -> int:
    """How many of `chunks` (best first) fit in `room` tokens, by estimate."""
    used, seen = 0, set()
    for taken, chunk in enumerate(chunks):
        used += layout.cost(chunk, chunk.document_id not in seen)
        seen.add(chunk.document_id)
        if used > room:
            return taken
    return len(chunks)


def _split(chunks: Sequence[Chunk], layout: PromptLayout, room: int) -> list[list[Chunk]]:
    """Document-ordered chunks -> parts of whole top-level sections within `room` tokens
    (by estimate); a section longer than `room` is cut between chunks."""
    parts: list[list[Chunk]] = []
    current: list[Chunk] = []
    used = 0
    sections = [list(g) for _, g in groupby(chunks, key=lambda c: tuple(c.section_path[:1]))]
    cost = layout.cost
    for section in sections:
        tokens = sum(cost(c, False) for c in section)
        if current and used + tokens > room:
            parts.append(current)
            current, used = [], 0
        for chunk in section:
            tokens = cost(chunk, not current)
            if current and used + tokens > room:
                parts.append(current)
                current, used = [], 0
                tokens = cost(chunk, True)
            current.append(chunk)
            used += tokens
    if current:
        parts.append(current)
    return parts


def _sequential(chunks: Sequence[Chunk]) -> list[Chunk]:
    """Chunks in number order, each trimmed to start where the text before it ended."""
    ordered: list[Chunk] = []
    end = -1
    for chunk in sorted(chunks, key=lambda c: (c.document_id, c.number)):
        if ordered and ordered[-1].document_id != chunk.document_id:
            end = -1
        trimmed = trim(chunk, max(end, chunk.char_start), chunk.char_end)
        if trimmed is not None:
            ordered.append(trimmed)
            end = trimmed.char_end
    return ordered
