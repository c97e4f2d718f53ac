"""Structured summaries of a contract or an annual report, in the document's language.

A document that fits the prompt budget is summarised in one call. A longer one goes
map-reduce: `pack_document` cuts it into parts along its sections, each part gets a
partial summary with the same schema (map), and the partials are merged (reduce); when
the partials together exceed the budget they are merged in rounds of batches that fit.
Every statement comes with quotes the model copied from the document; the quotes found in
the document text become its evidence, with pages and offsets from the located text
(`pipelines.summary_evidence`); a statement without any is marked unverified. Thinking is
off (extraction scores better without it).

Each model request is a step told to `progress` ("summarising part 2/4", "merging 4
partial summaries"). A part whose request times out (`LlmTimeout`: the model is slower
than even the longest timeout allows) is split in two halves summarised apart, and a merge
that times out is done in two smaller merges: the work is made smaller, not repeated.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, overload

from pydantic import BaseModel

from pipelines.context import Budget, PackedContext, pack_document
from pipelines.errors import LlmTimeout, PromptTooLong
from pipelines.grounding import SourceText
from pipelines.models import ChatMessage, Chunk, Document
from pipelines.ports import ChatModel, Progress, TokenCounter
from pipelines.prompts import (
    ANALYST_INSTRUCTIONS,
    Language,
    chat_messages,
    detect_language,
    language_rule,
    prompt_tokens,
)
from pipelines.summary_evidence import ground
from pipelines.summary_models import (
    MAX_EVIDENCE,
    MAX_FIGURES,
    MAX_RISKS,
    ContractReply,
    ContractSummary,
    Reply,
    ReportReply,
    ReportSummary,
    Summary,
    SummaryKind,
    empty_summary,
)

_SHAPES: dict[SummaryKind, str] = {
    "contract": (
        '{"parties": S, "subject": S, "term_and_renewal": S, "payment": S, '
        '"obligations": S, "liability_and_indemnity": S, "termination": S, '
        '"governing_law": S}\nwhere each S is {"text": "...", "quotes": ["...", ...]}: "parties" '
        'names who signs and in what role; "subject" what the contract is about; '
        '"term_and_renewal" its duration, renewal and notice periods; "payment" prices, fees '
        'and payment terms; "obligations" the main duties of each party; '
        '"liability_and_indemnity" caps, exclusions and indemnities; "termination" who may '
        'end it and how; "governing_law" the law and the courts or arbitration.'
    ),
    "annual_report": (
        '{"business": S, "key_figures": [{"name": "...", "value": "...", "period": "...", '
        '"quote": "..."}, ...], "outlook": S, "major_risks": [S, ...]}\nwhere each S is '
        '{"text": "...", "quotes": ["...", ...]}: "business" what the company does and where; '
        f'"key_figures" up to {MAX_FIGURES} headline figures (revenue, profit, assets, ...); '
        f'"outlook" what management expects; "major_risks" up to {MAX_RISKS} risks the report '
        "itself names."
    ),
}


def summary_task(kind: SummaryKind, language: Language) -> str:
    """The task text written after the document (the prefix before it is shared)."""
    return (
        f"Task: summarise the {kind.replace('_', ' ')} above. The document may come in parts "
        "(a line before this task says so): then summarise only the text you are given. "
        "Reply with one "
        f"JSON object shaped as\n{_SHAPES[kind]}\nKeep every text to one or two sentences. "
        f'In "quotes" copy, word for word, up to {MAX_EVIDENCE} short sentences of the '
        'document that show each statement (a figure\'s "quote": the sentence or table row '
        "that gives it). When the text does not say, give an empty text and no quotes. "
        f"{language_rule(language)}"
    )


def _merge_task(kind: SummaryKind, language: Language, parts: int) -> str:
    return (
        f"Below are {parts} partial summaries of consecutive parts of one "
        f"{kind.replace('_', ' ')}, in document order, as JSON. Merge them into one summary "
        f"of the whole document, shaped as\n{_SHAPES[kind]}\nCombine what the parts say on "
        "each point, keep the quotes of what you keep, copied unchanged, drop repetitions, "
        f"keep each text to one or two sentences. {language_rule(language)}"
    )


@overload
def summarize(
    document: Document,
    chunks: Sequence[Chunk],
    *,
    kind: Literal["contract"],
    llm: ChatModel,
    counter: TokenCounter,
    budget: Budget,
    cache_salt: str | None = None,
    progress: Progress | None = None,
    page_starts: Sequence[int] | None = None,
) -> ContractSummary: ...


@overload
def summarize(
    document: Document,
    chunks: Sequence[Chunk],
    *,
    kind: Literal["annual_report"],
    llm: ChatModel,
    counter: TokenCounter,
    budget: Budget,
    cache_salt: str | None = None,
    progress: Progress | None = None,
    page_starts: Sequence[int] | None = None,
) -> ReportSummary: ...


def summarize(
    document: Document,
    chunks: Sequence[Chunk],
    *,
    kind: SummaryKind,
    llm: ChatModel,
    counter: TokenCounter,
    budget: Budget,
    cache_salt: str | None = None,
    progress: Progress | None = None,
    page_starts: Sequence[int] | None = None,
) -> Summary:
    """Summarise `document` (all its `chunks`) as a contract or an annual report.

    One call when the document fits `budget`, else map-reduce over the parts that
    `pack_document` gives (every prompt, merges included, fits the budget). Written in the
    document's language (`detect_language`). A document without chunks gives an empty
    summary without calling the model. Each statement's quotes are located in the document
    (`pipelines.summary_evidence`; `page_starts` as stored makes pages exact). Each request
    is a step told to `progress`; a part or merge that times out is split. Raises
    `PromptTooLong` when even two partial summaries cannot be merged within the budget,
    `LlmTimeout` when a single chunk or two partials still time out, and the other
    `ChatModel` errors.
    """
    schema = ContractReply if kind == "contract" else ReportReply
    own = [c for c in chunks if c.document_id == document.id]
    if not own:
        return empty_summary(kind)
    summarizer = _Summarizer(schema, kind, llm, counter, budget, cache_salt, _Steps(progress))
    reply, partials = summarizer.run(document, own)
    return ground(reply, SourceText(own, page_starts), partials)


class _Steps:
    """Counts model requests for `Progress`: `total` is what is known so far."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress, self.done, self.total = progress, 0, 0

    def start(self, step: str) -> None:
        if self.progress is not None:
            self.progress(self.done, max(self.total, self.done + 1), step)

    def finish(self) -> None:
        self.done += 1

    def end(self) -> None:
        if self.progress is not None:
            self.progress(self.done, self.done, "done")


class _Summarizer:
    """Map-reduce over the parts of one document, for one summary schema."""

    def __init__(
        self,
        schema: type[ContractReply] | type[ReportReply],
        kind: SummaryKind,
        llm: ChatModel,
        counter: TokenCounter,
        budget: Budget,
        cache_salt: str | None,
        steps: _Steps,
    ) -> None:
        self.schema: type[ContractReply] | type[ReportReply] = schema
        self.kind, self.llm, self.counter, self.budget = kind, llm, counter, budget
        self.cache_salt, self.steps = cache_salt, steps
        self.title: str | None = None
        self.language: Language = "en"

    def run(self, document: Document, own: Sequence[Chunk]) -> tuple[Reply, list[Reply]]:
        """The model's summary of the whole document, and the partial summaries of its
        parts (none when it was summarised in one request)."""
        language = self.language = detect_language(own)
        self.title = document.filename
        parts = self._pack(own)
        self.steps.total = len(parts) + (len(parts) > 1)  # the parts, then at least a merge
        mapped: list[Reply] = []
        for n, part in enumerate(parts, 1):
            label = f"summarising part {n}/{len(parts)}" if len(parts) > 1 else "summarising"
            mapped += self._map(part, label)
        partials = mapped
        while len(partials) > 1:
            batches = self._batches(partials, language)
            merges = sum(len(batch) > 1 for batch in batches)
            self.steps.total = self.steps.done + merges + (len(batches) > 1)
            partials = [merged for batch in batches for merged in self._reduce(batch, language)]
        self.steps.end()
        return partials[0], mapped if len(mapped) > 1 else []

    def _pack(self, chunks: Sequence[Chunk]) -> list[PackedContext]:
        return pack_document(
            ANALYST_INSTRUCTIONS,
            chunks,
            summary_task(self.kind, self.language),
            counter=self.counter,
            budget=self.budget,
            title=self.title,
        )

    def _ask(self, messages: list[ChatMessage]) -> Reply:
        return self.llm.structured(
            messages,
            self.schema,
            thinking=False,
            max_tokens=self.budget.max_output_tokens,
            cache_salt=self.cache_salt,
        )

    def _map(self, part: PackedContext, label: str) -> list[Reply]:
        """The part's partial summary; the partials of its halves when it times out."""
        self.steps.start(label)
        try:
            partial = self._ask(chat_messages(part.messages))
        except LlmTimeout:
            if len(part.chunks) < 2:
                raise
            half = len(part.chunks) // 2
            self.steps.total += 1  # two requests instead of one (merges are counted later)
            return [
                summary
                for n, chunks in enumerate((part.chunks[:half], part.chunks[half:]), 1)
                for packed in self._pack(chunks)
                for summary in self._map(packed, f"{label} (half {n}/2 after a timeout)")
            ]
        self.steps.finish()
        return [partial]

    def _merge_messages(self, batch: Sequence[BaseModel], language: Language) -> list[ChatMessage]:
        body = "\n".join(
            f"Part {n}: {partial.model_dump_json()}" for n, partial in enumerate(batch, 1)
        )
        return [
            ChatMessage(role="system", content=ANALYST_INSTRUCTIONS),
            ChatMessage(
                role="user", content=f"{_merge_task(self.kind, language, len(batch))}\n\n{body}"
            ),
        ]

    def _batches(self, partials: Sequence[Reply], language: Language) -> list[list[Reply]]:
        """Consecutive partials grouped so that each merge prompt fits the budget."""
        limit = self.budget.prompt_limit
        batches: list[list[Reply]] = []
        current: list[Reply] = []
        for partial in partials:
            trial = [*current, partial]
            if (
                current
                and prompt_tokens(self._merge_messages(trial, language), self.counter) > limit
            ):
                batches.append(current)
                trial = [partial]
            current = trial
        batches.append(current)
        if any(len(batch) < 2 for batch in batches) and len(batches) == len(partials):
            raise PromptTooLong(
                f"two partial summaries do not fit in {limit} prompt tokens to be merged"
            )
        return batches

    def _reduce(self, batch: Sequence[Reply], language: Language) -> list[Reply]:
        """One summary of the batch; two of its halves when its merge times out."""
        if len(batch) == 1:
            return [batch[0]]
        self.steps.start(f"merging {len(batch)} partial summaries")
        try:
            merged = self._ask(self._merge_messages(batch, language))
        except LlmTimeout:
            if len(batch) < 3:
                raise
            half = len(batch) // 2
            self.steps.total += 1
            return [*self._reduce(batch[:half], language), *self._reduce(batch[half:], language)]
        self.steps.finish()
        return [merged]
