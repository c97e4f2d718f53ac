"""Questions answered from retrieved passages only, every claim citing document and page.

The candidates are packed with `pack_context` (the same instructions and layout as every
analysis, so the document prefix is shared in the prefix cache) and the model is told to
cite passage markers and to reply exactly `NOT_FOUND` when the passages do not hold the
answer. Its reply goes through `_AnswerWriter`, the same for whole and streamed replies:

- citation brackets are resolved against the packed passages (`resolve_citations`); a
  bracket citing nothing that was shown is removed from the text, one citing some real
  and some invented passages keeps only the real ones (rewritten as their markers);
- a reply starting with the not-found sentence becomes exactly `NOT_FOUND`, `found=False`,
  no citations (the rest of the reply is not shown);
- no candidates (or none fitting the budget): `NOT_FOUND` without calling the model.

A streamed answer yields exactly the text of its final `Answer`: text that could still turn
out to be the not-found sentence or an invented marker is held back until it is decided.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator, Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, Field

from pipelines.citations import Citation, resolve_citations
from pipelines.context import Budget, PackedContext, pack_context
from pipelines.evidence import Evidence, describe, looks_relevant
from pipelines.extract import Extracted
from pipelines.models import Chunk, ScoredChunk
from pipelines.ports import ChatModel, TokenCounter
from pipelines.prompts import ANALYST_INSTRUCTIONS, chat_messages

NOT_FOUND = "Not found in the documents."
"""The whole answer when the passages do not contain it."""
_NOT_FOUND_FORMS = (
    "not found in the documents",
    "文档中未找到",
    "在文档中未找到",
    "未在文档中找到",
)
_BRACKET = re.compile(r"\[\s*doc\s*:[^\[\]]{0,400}\]")
_PARTIAL = re.compile(r"\[\s*(?:d(?:o(?:c(?:\s*(?::[^\[\]]*)?)?)?)?)?\Z")
"""Text that may still grow into a citation bracket."""
_CITING = re.compile(r"\[\s*doc\s*:")
_MAX_BRACKET = 420

ANSWER_RULES = (
    "Task: answer the question below from the passages above only. Cite each claim by "
    "copying the marker of the passage it comes from, e.g. [doc:1a2b3c4d, p.3], right after "
    "the sentence. Never cite a marker that is not above. If the passages do not contain "
    f'the answer, reply with exactly "{NOT_FOUND}" and nothing else. Answer in the '
    "language of the question, briefly."
)


NotFoundCheck = Literal["absent", "model_could_not_answer"]
COULD_NOT_ANSWER = "The model did not find the answer, but these passages look relevant:"


class AnswerCitation(BaseModel):
    """A source the answer cites: a passage that was shown to the model."""

    marker: str
    document_id: str
    page_start: int
    page_end: int
    chunk_numbers: list[int]


class Answer(BaseModel):
    """An answer whose every remaining citation marker maps to a packed passage."""

    text: str
    found: bool
    citations: list[AnswerCitation] = Field(default_factory=list)
    removed_markers: list[str] = Field(default_factory=list)
    """Citation brackets the model wrote that matched no packed passage (removed)."""
    evidence: list[Evidence] = Field(default_factory=list)
    """The passages given to the model, or the best ones retrieval found (best first)."""
    extracted: list[Extracted] = Field(default_factory=list)
    """Values read without the model (governing law, dates), each with its located quote."""
    not_found_checked: NotFoundCheck | None = None
    """For a "not found": `absent` when no passage looks relevant to the question,
    `model_could_not_answer` when the best passages do (or a value was extracted)."""

    @property
    def grounded(self) -> bool:
        """Found and backed by at least one real citation. An answer that is not grounded
        must not be shown as based on the documents."""
        return self.found and bool(self.citations)


def question_task(question: str) -> str:
    """The text after the documents: the answer rules, then the question."""
    return f"{ANSWER_RULES}\n\nQuestion: {question.strip()}"


def pack_question(
    question: str,
    candidates: Sequence[ScoredChunk],
    *,
    counter: TokenCounter,
    budget: Budget,
    titles: Mapping[str, str] | None = None,
) -> PackedContext:
    """The prompt `answer_question` sends (the best candidates that fit the budget)."""
    return pack_context(
        ANALYST_INSTRUCTIONS,
        candidates,
        question_task(question),
        counter=counter,
        budget=budget,
        titles=titles,
    )


def whole_documents(chunks: Sequence[Chunk]) -> list[ScoredChunk]:
    """Every chunk as a candidate, in document-and-chunk order, scores descending in that
    order. Packed by `pack_context`, a document that fits gives the same passages, markers
    and prompt prefix as `pack_document` (the summary's and the risks' prompt), so a
    question reuses their cached prefix; one that does not fit keeps its first chunks."""
    ordered = sorted(chunks, key=lambda c: (c.document_id, c.number))
    return [ScoredChunk(chunk=c, score=float(len(ordered) - i)) for i, c in enumerate(ordered)]


def whole_document_candidates(
    question: str,
    chunks: Sequence[Chunk],
    *,
    counter: TokenCounter,
    budget: Budget,
    titles: Mapping[str, str] | None = None,
) -> list[ScoredChunk] | None:
    """`whole_documents(chunks)` when all of them fit this question's prompt, else None
    (then retrieve the best passages instead). Pass every chunk of the documents in scope
    and the same `titles` as to `answer_question`."""
    if not chunks:
        return None
    if sum(c.token_count for c in chunks) > 2 * budget.prompt_limit:
        return None  # clearly too long: skip counting the whole text
    candidates = whole_documents(chunks)
    packed = pack_question(question, candidates, counter=counter, budget=budget, titles=titles)
    return candidates if packed.dropped == 0 else None


def answer_question(
    question: str,
    candidates: Sequence[ScoredChunk],
    *,
    llm: ChatModel,
    counter: TokenCounter,
    budget: Budget,
    titles: Mapping[str, str] | None = None,
    thinking: bool = False,
    cache_salt: str | None = None,
) -> Answer:
    """Answer `question` from `candidates` (best first, e.g. `search_passages`).

    Raises `PromptTooLong` when the question alone exceeds the budget, and the `ChatModel`
    errors. With no candidates the answer is `NOT_FOUND` and the model is not called.
    """
    packed = pack_question(question, candidates, counter=counter, budget=budget, titles=titles)
    if not packed.chunks:
        return not_found()
    reply = llm.complete(
        chat_messages(packed.messages),
        thinking=thinking,
        max_tokens=packed.max_output_tokens,
        cache_salt=cache_salt,
    )
    writer = _AnswerWriter(packed.citations)
    writer.feed(reply.text)
    writer.finish()
    return writer.answer()


class AnswerStream:
    """Text deltas of an answer; `answer()` gives the resolved `Answer` once it is consumed.

    The concatenated deltas equal `answer().text`. Closing it early (or leaving a `with`
    block) closes the model's stream.
    """

    def __init__(self, deltas: Iterator[str], writer: _AnswerWriter) -> None:
        self._deltas = deltas
        self._writer = writer
        self._done = False
        self._pieces: Generator[str, None, None] = self._run()

    def __iter__(self) -> AnswerStream:
        return self

    def __next__(self) -> str:
        return next(self._pieces)

    def __enter__(self) -> AnswerStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop reading the model's reply."""
        self._pieces.close()
        close = getattr(self._deltas, "close", None)
        if close is not None:
            close()

    def answer(self) -> Answer:
        """The final answer. Reads whatever is left of the stream first."""
        for _ in self._pieces:
            pass
        if not self._done:
            raise RuntimeError("the answer stream was closed before it ended")
        return self._writer.answer()

    def _run(self) -> Generator[str, None, None]:
        for delta in self._deltas:
            visible = self._writer.feed(delta)
            if visible:
                yield visible
            if self._writer.settled_not_found:
                close = getattr(self._deltas, "close", None)
                if close is not None:
                    close()  # the rest is never shown: stop generating it
                break
        rest = self._writer.finish()
        self._done = True
        if rest:
            yield rest


def stream_answer(
    question: str,
    candidates: Sequence[ScoredChunk],
    *,
    llm: ChatModel,
    counter: TokenCounter,
    budget: Budget,
    titles: Mapping[str, str] | None = None,
    thinking: bool = False,
    cache_salt: str | None = None,
) -> AnswerStream:
    """`answer_question` streamed: iterate for text deltas, then call `.answer()`."""
    packed = pack_question(question, candidates, counter=counter, budget=budget, titles=titles)
    writer = _AnswerWriter(packed.citations)
    if not packed.chunks:
        return AnswerStream(iter([NOT_FOUND]), writer)
    deltas = llm.stream(
        chat_messages(packed.messages),
        thinking=thinking,
        max_tokens=packed.max_output_tokens,
        cache_salt=cache_salt,
    )
    return AnswerStream(deltas, writer)


def with_evidence(
    answer: Answer,
    evidence: Sequence[Evidence],
    extracted: Sequence[Extracted] = (),
    *,
    relevance: float,
) -> Answer:
    """`answer` carrying its evidence and extracted values; a "not found" checked: when the
    best passages look relevant (`relevance`, see `pipelines.evidence`) or a value was
    extracted, the text says the model could not answer from them (naming them) instead
    of asserting that the documents hold no answer."""
    update: dict[str, object] = {"evidence": list(evidence), "extracted": list(extracted)}
    if not answer.found:
        if evidence and (looks_relevant(relevance) or extracted):
            update["not_found_checked"] = "model_could_not_answer"
            shown = "; ".join(describe(e) for e in evidence[:3])
            values = "".join(f" {e.field.replace('_', ' ')}: {e.value}." for e in extracted)
            update["text"] = f"{COULD_NOT_ANSWER} {shown}.{values}"
        else:
            update["not_found_checked"] = "absent"
    return answer.model_copy(update=update)


def not_found() -> Answer:
    """The answer when the documents do not hold one."""
    return Answer(text=NOT_FOUND, found=False)


def _normal(text: str) -> str:
    return " ".join(text.lower().replace("*", "").replace('"', "").split())


def _could_be_not_found(text: str) -> bool:
    head = _normal(text)
    return any(form.startswith(head) for form in _NOT_FOUND_FORMS)


def _is_not_found(text: str) -> bool:
    head = _normal(text)
    return any(head.startswith(form) for form in _NOT_FOUND_FORMS)


class _AnswerWriter:
    """Turns reply text (whole, or deltas) into answer text: markers checked, not-found
    detected; `feed` returns what can be shown now, `finish` the rest."""

    def __init__(self, citations: Mapping[str, Citation]) -> None:
        self.citations = citations
        self.pending = ""  # undecided text: a possible marker or not-found sentence
        self.space = ""  # whitespace held until text follows (dropped before a removed marker)
        self.started = False  # the opening is decided: not the not-found sentence
        self.settled_not_found = False
        self.shown: list[str] = []
        self.cited: list[Citation] = []
        self.removed: list[str] = []

    def feed(self, delta: str) -> str:
        """What of `delta` (with what was held back) can be shown now."""
        if self.settled_not_found:
            return ""
        self.pending += delta
        if not self.started:
            opening = self.pending.lstrip()
            if _is_not_found(opening):
                return self._settle_not_found()
            if not opening or _could_be_not_found(opening):
                return ""
            self.started, self.pending = True, opening
        return self._flush(final=False)

    def finish(self) -> str:
        """Whatever was held back and is to be shown; the reply has ended."""
        if self.settled_not_found:
            return ""
        if not self.started:
            self.started, self.pending = True, self.pending.lstrip()
        out = self._flush(final=True)
        self.space = ""
        if not self.shown:  # an empty reply, or one made only of invented markers
            return self._settle_not_found()
        return out

    def answer(self) -> Answer:
        """The resolved answer (after `finish`)."""
        if self.settled_not_found:
            return not_found()
        citations = [
            AnswerCitation(
                marker=c.marker,
                document_id=c.document_id,
                page_start=c.page_start,
                page_end=c.page_end,
                chunk_numbers=list(c.chunk_numbers),
            )
            for c in self.cited
        ]
        return Answer(
            text="".join(self.shown),
            found=True,
            citations=citations,
            removed_markers=self.removed,
        )

    def _settle_not_found(self) -> str:
        self.settled_not_found, self.pending, self.space = True, "", ""
        self.cited.clear()
        return self._show(NOT_FOUND)

    def _flush(self, *, final: bool) -> str:
        out: list[str] = []
        while self.pending:
            start = self.pending.find("[")
            if start < 0:
                out.append(self._text(self.pending))
                self.pending = ""
                break
            out.append(self._text(self.pending[:start]))
            self.pending = self.pending[start:]
            bracket = _BRACKET.match(self.pending)
            if bracket is not None:
                out.append(self._marker(bracket.group(0)))
                self.pending = self.pending[bracket.end() :]
                continue
            if _PARTIAL.match(self.pending) and len(self.pending) < _MAX_BRACKET:
                if not final:
                    break  # may still become a marker: wait for more text
                if _CITING.match(self.pending):  # a marker cut off at the end: not a source
                    self.removed.append(self.pending)
                    self.pending = ""
                    break
            out.append(self._text(self.pending[0]))
            self.pending = self.pending[1:]
        return "".join(out)

    def _text(self, text: str) -> str:
        """Plain text: shown, except trailing whitespace (held until more text comes)."""
        body = text.rstrip()
        if not body:
            self.space += text
            return ""
        shown = self._show(self.space + body)
        self.space = text[len(body) :]
        return shown

    def _marker(self, bracket: str) -> str:
        found, unresolved = resolve_citations(bracket, self.citations)
        if unresolved:
            self.removed.append(bracket)
        if not found:
            self.space = ""  # "claim [doc:zz, p.9]." -> "claim."
            return ""
        self.cited.extend(c for c in found if c not in self.cited)
        return self._show(
            self.space + (" ".join(c.marker for c in found) if unresolved else bracket)
        )

    def _show(self, text: str) -> str:
        self.space = ""
        self.shown.append(text)
        return text
