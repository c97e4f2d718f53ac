"""Questions answered from retrieved passages only, every claim citing document and page.

The candidates are packed with `pack_context` (the same instructions and layout as every
analysis, so the document prefix is shared in the prefix cache) and the model is told to
cite passage markers and to reply exactly `NOT_FOUND` when the passages do not hold the
answer. Its reply goes through `AnswerWriter` (`pipelines.answer_writer`: markers checked
against the packed passages, the not-found sentence detected), the same for whole and
streamed replies; with no candidates (or none fitting the budget) the answer is
`NOT_FOUND` without calling the model. The `Answer` model is in `pipelines.answer_models`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pipelines.answer_models import NOT_FOUND, Answer, not_found
from pipelines.answer_writer import AnswerStream, AnswerWriter
from pipelines.context import Budget, PackedContext, pack_context
from pipelines.evidence import Evidence, describe, looks_relevant
from pipelines.extract import Extracted
from pipelines.models import Chunk, ScoredChunk
from pipelines.ports import ChatModel, TokenCounter
from pipelines.prompts import ANALYST_INSTRUCTIONS, chat_messages

ANSWER_RULES = (
    "Task: answer the question below from the passages above only. Cite each claim by "
    "copying the marker of the passage it comes from, e.g. [doc:1a2b3c4d, p.3], right after "
    "the sentence. Never cite a marker that is not above. If the passages do not contain "
    f'the answer, reply with exactly "{NOT_FOUND}" and nothing else. Answer in the '
    "language of the question, briefly."
)


COULD_NOT_ANSWER = "The model did not find the answer, but these passages look relevant:"


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
    writer = AnswerWriter(packed.citations)
    writer.feed(reply.text)
    writer.finish()
    return writer.answer()


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
    writer = AnswerWriter(packed.citations)
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
