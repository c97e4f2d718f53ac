"""Structured summaries of a contract or an annual report, in the document's language.

A document that fits the prompt budget is summarised in one call. A longer one goes
map-reduce: `pack_document` cuts it into parts along its sections, each part gets a
partial summary with the same schema (map), and the partials are merged (reduce); when
the partials together exceed the budget they are merged in rounds of batches that fit.
Every value cites the pages it comes from; pages outside the text the model was shown are
dropped. Thinking is off (extraction scores better without it).

Each model request is a step told to `progress` ("summarising part 2/4", "merging 4
partial summaries"). A part whose request times out (`LlmTimeout`: the model is slower
than even the longest timeout allows) is split in two halves summarised apart, and a merge
that times out is done in two smaller merges: the work is made smaller, not repeated.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, overload

from pydantic import BaseModel, Field

from pipelines.context import Budget, PackedContext, pack_document
from pipelines.errors import LlmTimeout, PromptTooLong
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

SummaryKind = Literal["contract", "annual_report"]


TEXT_CHARS = 400
"""Bound on a summary text in the reply schema (not checked when reading stored ones):
constrained decoding stops a small model that would ramble past its output budget (seen
with the bundled 0.5B model: a reply cut at 1,024 tokens, then its repair too)."""


class SourcedText(BaseModel):
    """A short statement and the pages it comes from (empty text: the document is silent)."""

    text: str = Field(description="one or two sentences; empty when the document does not say",
                      json_schema_extra={"maxLength": TEXT_CHARS})
    pages: list[int] = Field(description="1-based pages the statement comes from",
                             json_schema_extra={"maxItems": 8})


class ContractSummary(BaseModel):
    """What a contract says on the points a reviewer reads first."""

    parties: SourcedText
    subject: SourcedText
    term_and_renewal: SourcedText
    payment: SourcedText
    obligations: SourcedText
    liability_and_indemnity: SourcedText
    termination: SourcedText
    governing_law: SourcedText


class KeyFigure(BaseModel):
    """One reported figure, as the report writes it."""

    name: str = Field(description="what is measured, e.g. revenue, net profit, total assets")
    value: str = Field(description="the value with its unit and currency, as written")
    period: str = Field(description="the year or period it refers to")
    page: int | None = Field(description="1-based page where the figure is given")


class ReportSummary(BaseModel):
    """The essentials of an annual report."""

    business: SourcedText
    key_figures: list[KeyFigure] = Field(json_schema_extra={"maxItems": 10})
    outlook: SourcedText
    major_risks: list[SourcedText] = Field(json_schema_extra={"maxItems": 6})


Summary = ContractSummary | ReportSummary

_SHAPES: dict[SummaryKind, str] = {
    "contract": (
        '{"parties": S, "subject": S, "term_and_renewal": S, "payment": S, '
        '"obligations": S, "liability_and_indemnity": S, "termination": S, '
        '"governing_law": S}\nwhere each S is {"text": "...", "pages": [N, ...]}: "parties" '
        "names who signs and in what role; \"subject\" what the contract is about; "
        '"term_and_renewal" its duration, renewal and notice periods; "payment" prices, fees '
        'and payment terms; "obligations" the main duties of each party; '
        '"liability_and_indemnity" caps, exclusions and indemnities; "termination" who may '
        'end it and how; "governing_law" the law and the courts or arbitration.'
    ),
    "annual_report": (
        '{"business": S, "key_figures": [{"name": "...", "value": "...", "period": "...", '
        '"page": N}, ...], "outlook": S, "major_risks": [S, ...]}\nwhere each S is '
        '{"text": "...", "pages": [N, ...]}: "business" what the company does and where; '
        '"key_figures" up to 10 headline figures (revenue, profit, assets, ...); "outlook" '
        'what management expects; "major_risks" up to 6 risks the report itself names.'
    ),
}
_MAX_FIGURES, _MAX_RISKS = 10, 6


def summary_task(kind: SummaryKind, language: Language) -> str:
    """The task text written after the document (the prefix before it is shared)."""
    return (
        f"Task: summarise the {kind.replace('_', ' ')} above. The document may come in parts "
        "(a line before this task says so): then summarise only the text you are given. "
        "Reply with one "
        f"JSON object shaped as\n{_SHAPES[kind]}\nKeep every text to one or two sentences. "
        "Cite in \"pages\" the page numbers of the markers ([doc:..., p.N]) of the passages "
        "you used. When the text does not say, give an empty text and no pages. "
        f"{language_rule(language)}"
    )


def _merge_task(kind: SummaryKind, language: Language, parts: int) -> str:
    return (
        f"Below are {parts} partial summaries of consecutive parts of one "
        f"{kind.replace('_', ' ')}, in document order, as JSON. Merge them into one summary "
        f"of the whole document, shaped as\n{_SHAPES[kind]}\nCombine what the parts say on "
        "each point, keep every page cited for what you keep, drop repetitions, keep each "
        f"text to one or two sentences. {language_rule(language)}"
    )


@overload
def summarize(
    document: Document, chunks: Sequence[Chunk], *, kind: Literal["contract"],
    llm: ChatModel, counter: TokenCounter, budget: Budget, cache_salt: str | None = None,
    progress: Progress | None = None,
) -> ContractSummary: ...


@overload
def summarize(
    document: Document, chunks: Sequence[Chunk], *, kind: Literal["annual_report"],
    llm: ChatModel, counter: TokenCounter, budget: Budget, cache_salt: str | None = None,
    progress: Progress | None = None,
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
) -> Summary:
    """Summarise `document` (all its `chunks`) as a contract or an annual report.

    One call when the document fits `budget`, else map-reduce over the parts that
    `pack_document` gives (every prompt, merges included, fits the budget). Written in the
    document's language (`detect_language`). A document without chunks gives an empty
    summary without calling the model. Each request is a step told to `progress`; a part
    or merge that times out is split. Raises `PromptTooLong` when even two partial
    summaries cannot be merged within the budget, `LlmTimeout` when a single chunk or two
    partials still time out, and the other `ChatModel` errors.
    """
    schema = ContractSummary if kind == "contract" else ReportSummary
    steps = _Steps(progress)
    return _Summarizer(schema, kind, llm, counter, budget, cache_salt, steps).run(
        document, chunks
    )


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
        schema: type[ContractSummary] | type[ReportSummary],
        kind: SummaryKind,
        llm: ChatModel,
        counter: TokenCounter,
        budget: Budget,
        cache_salt: str | None,
        steps: _Steps,
    ) -> None:
        self.schema: type[ContractSummary] | type[ReportSummary] = schema
        self.kind, self.llm, self.counter, self.budget = kind, llm, counter, budget
        self.cache_salt, self.steps = cache_salt, steps
        self.title: str | None = None
        self.language: Language = "en"

    def run(self, document: Document, chunks: Sequence[Chunk]) -> Summary:
        own = [c for c in chunks if c.document_id == document.id]
        if not own:
            return empty_summary(self.kind)
        language = self.language = detect_language(own)
        self.title = document.filename
        parts = self._pack(own)
        self.steps.total = len(parts) + (len(parts) > 1)  # the parts, then at least a merge
        partials: list[Summary] = []
        for n, part in enumerate(parts, 1):
            label = f"summarising part {n}/{len(parts)}" if len(parts) > 1 else "summarising"
            partials += self._map(part, label)
        pages = {p for c in own for p in range(c.page_start, c.page_end + 1)}
        while len(partials) > 1:
            batches = self._batches(partials, language)
            merges = sum(len(batch) > 1 for batch in batches)
            self.steps.total = self.steps.done + merges + (len(batches) > 1)
            partials = [merged for batch in batches
                        for merged in self._reduce(batch, language, pages)]
        self.steps.end()
        return partials[0]

    def _pack(self, chunks: Sequence[Chunk]) -> list[PackedContext]:
        return pack_document(
            ANALYST_INSTRUCTIONS, chunks, summary_task(self.kind, self.language),
            counter=self.counter, budget=self.budget, title=self.title,
        )

    def _ask(self, messages: list[ChatMessage], pages: set[int]) -> Summary:
        reply = self.llm.structured(
            messages, self.schema, thinking=False, max_tokens=self.budget.max_output_tokens,
            cache_salt=self.cache_salt,
        )
        return keep_pages(reply, pages)

    def _map(self, part: PackedContext, label: str) -> list[Summary]:
        """The part's partial summary; the partials of its halves when it times out."""
        shown = {p for c in part.chunks for p in range(c.page_start, c.page_end + 1)}
        self.steps.start(label)
        try:
            partial = self._ask(chat_messages(part.messages), shown)
        except LlmTimeout:
            if len(part.chunks) < 2:
                raise
            half = len(part.chunks) // 2
            self.steps.total += 1  # two requests instead of one (merges are counted later)
            return [summary for n, chunks in enumerate((part.chunks[:half],
                                                        part.chunks[half:]), 1)
                    for packed in self._pack(chunks)
                    for summary in self._map(packed, f"{label} (half {n}/2 after a timeout)")]
        self.steps.finish()
        return [partial]

    def _merge_messages(
        self, batch: Sequence[BaseModel], language: Language
    ) -> list[ChatMessage]:
        body = "\n".join(
            f"Part {n}: {partial.model_dump_json()}" for n, partial in enumerate(batch, 1)
        )
        return [
            ChatMessage(role="system", content=ANALYST_INSTRUCTIONS),
            ChatMessage(
                role="user", content=f"{_merge_task(self.kind, language, len(batch))}\n\n{body}"
            ),
        ]

    def _batches(
        self, partials: Sequence[Summary], language: Language
    ) -> list[list[Summary]]:
        """Consecutive partials grouped so that each merge prompt fits the budget."""
        limit = self.budget.prompt_limit
        batches: list[list[Summary]] = []
        current: list[Summary] = []
        for partial in partials:
            trial = [*current, partial]
            if current and prompt_tokens(self._merge_messages(trial, language),
                                         self.counter) > limit:
                batches.append(current)
                trial = [partial]
            current = trial
        batches.append(current)
        if any(len(batch) < 2 for batch in batches) and len(batches) == len(partials):
            raise PromptTooLong(
                f"two partial summaries do not fit in {limit} prompt tokens to be merged"
            )
        return batches

    def _reduce(
        self,
        batch: Sequence[Summary],
        language: Language,
        pages: set[int],
    ) -> list[Summary]:
        """One summary of the batch; two of its halves when its merge times out."""
        if len(batch) == 1:
            return [batch[0]]
        self.steps.start(f"merging {len(batch)} partial summaries")
        try:
            merged = self._ask(self._merge_messages(batch, language), pages)
        except LlmTimeout:
            if len(batch) < 3:
                raise
            half = len(batch) // 2
            self.steps.total += 1
            return [*self._reduce(batch[:half], language, pages),
                    *self._reduce(batch[half:], language, pages)]
        self.steps.finish()
        return [merged]


def keep_pages(summary: Summary, pages: set[int]) -> Summary:
    """`summary` with every cited page outside `pages` removed (a figure's page set to None),
    duplicates removed, lists capped (10 key figures, 6 risks)."""

    def clean(item: SourcedText) -> SourcedText:
        kept = sorted({p for p in item.pages if p in pages})
        return SourcedText(text=item.text.strip(), pages=kept if item.text.strip() else [])

    if isinstance(summary, ContractSummary):
        fields = {name: clean(getattr(summary, name)) for name in ContractSummary.model_fields}
        return ContractSummary.model_validate(fields)
    figures = [
        figure.model_copy(update={"page": figure.page if figure.page in pages else None})
        for figure in summary.key_figures[:_MAX_FIGURES]
    ]
    risks = [clean(risk) for risk in summary.major_risks if risk.text.strip()][:_MAX_RISKS]
    return ReportSummary(
        business=clean(summary.business), key_figures=figures,
        outlook=clean(summary.outlook), major_risks=risks,
    )


def empty_summary(kind: SummaryKind) -> Summary:
    """A summary saying nothing (for a document without text)."""
    blank = SourcedText(text="", pages=[])
    if kind == "contract":
        return ContractSummary.model_validate(
            {name: blank for name in ContractSummary.model_fields}
        )
    return ReportSummary(business=blank, key_figures=[], outlook=blank, major_risks=[])
