"""Answers with citations from a scripted model: resolution, not-found, streaming, budget."""

from __future__ import annotations

import re

import pytest

from pipelines.answer_models import NOT_FOUND
from pipelines.answers import (
    answer_question,
    pack_question,
    stream_answer,
    whole_document_candidates,
    whole_documents,
)
from pipelines.context import Budget
from pipelines.models import Chunk, ScoredChunk
from pipelines.prompts import prompt_tokens
from services.adapters.llm_fake import FakeChatModel

_TOKEN = re.compile(r"<\|[a-z_]+\|>|[A-Za-z0-9]+|[^\sA-Za-z0-9]|\n")
ROOMY = Budget(max_model_len=100_000, max_output_tokens=1_000, max_prompt_tokens=90_000)


class WordCounter:
    def count(self, text: str) -> int:
        return len(_TOKEN.findall(text))


COUNTER = WordCounter()


def candidates(document_id: str = "doc-a", count: int = 4) -> list[ScoredChunk]:
    found = []
    for n in range(count):
        text = f"Clause {n}. " + " ".join(f"w{n}x{i}" for i in range(30)) + "."
        chunk = Chunk(
            document_id=document_id,
            number=n,
            text=text,
            page_start=n + 1,
            page_end=n + 1,
            char_start=n * 1000,
            char_end=n * 1000 + len(text),
            token_count=31,
        )
        found.append(ScoredChunk(chunk=chunk, score=1.0 / (n + 1)))
    return found


def ask(reply: str, found: list[ScoredChunk] | None = None, **options: object) -> tuple:
    llm = FakeChatModel([reply, reply], stream_piece_chars=3)
    pool = candidates() if found is None else found
    answer = answer_question("Who pays?", pool, llm=llm, counter=COUNTER, budget=ROOMY, **options)  # type: ignore[arg-type]
    stream = stream_answer("Who pays?", pool, llm=llm, counter=COUNTER, budget=ROOMY, **options)  # type: ignore[arg-type]
    pieces = list(stream)
    streamed = stream.answer()
    return answer, pieces, streamed, llm


def test_citations_resolve_to_packed_chunks_and_pages() -> None:
    reply = (
        "The tenant pays [doc:doc-a, p.2]. Monthly, in advance [doc:doc-a, p.3; doc:doc-a, p.2]."
    )
    answer, pieces, streamed, llm = ask(reply)
    assert answer.found
    assert answer.text == reply
    assert [(c.document_id, c.page_start, c.chunk_numbers) for c in answer.citations] == [
        ("doc-a", 2, [1]),
        ("doc-a", 3, [2]),
    ]
    assert answer.removed_markers == []
    assert "".join(pieces) == answer.text == streamed.text
    assert streamed == answer
    assert llm.calls[0].kind == "complete"
    assert llm.calls[1].kind == "stream"
    assert llm.calls[0].thinking is False
    assert llm.calls[0].max_tokens == ROOMY.max_output_tokens


def test_invented_citations_are_removed_never_shown() -> None:
    reply = (
        "The tenant pays [doc:doc-a, p.9]. Rent is due monthly [doc:zzzz, p.1; "
        "doc:doc-a, p.1]. Late fees apply [doc:doc-a, p.3]. [doc:doc-a, p.4"
    )
    answer, pieces, streamed, _ = ask(reply)
    assert answer.text == (
        "The tenant pays. Rent is due monthly [doc:doc-a, p.1]. Late fees apply [doc:doc-a, p.3]."
    )
    assert "".join(pieces) == answer.text == streamed.text
    assert [c.page_start for c in answer.citations] == [1, 3]
    assert answer.removed_markers == [
        "[doc:doc-a, p.9]",
        "[doc:zzzz, p.1; doc:doc-a, p.1]",
        "[doc:doc-a, p.4",
    ]
    assert streamed.removed_markers == answer.removed_markers


def test_an_answer_with_no_real_citation_is_not_grounded() -> None:
    answer, _, _, _ = ask("The tenant pays rent [doc:zzzz, p.1].")
    assert answer.found
    assert answer.citations == []
    assert not answer.grounded
    cited, _, _, _ = ask("The tenant pays [doc:doc-a, p.2].")
    assert cited.grounded


def test_brackets_that_are_not_markers_stay_as_text() -> None:
    reply = "Section [3] and [d] and [docs] apply [doc:doc-a, p.1]."
    answer, pieces, _, _ = ask(reply)
    assert answer.text == reply
    assert "".join(pieces) == reply


@pytest.mark.parametrize(
    "reply",
    [
        NOT_FOUND,
        "  not found in the documents.",
        "**Not found in the documents.** The passages discuss rent [doc:doc-a, p.1].",
        "文档中未找到。",
        "",
    ],
)
def test_not_found_reply_has_no_citations(reply: str) -> None:
    answer, pieces, streamed, _ = ask(reply)
    assert not answer.found
    assert answer.text == NOT_FOUND
    assert answer.citations == []
    assert "".join(pieces) == NOT_FOUND
    assert streamed == answer


def test_an_answer_starting_like_not_found_is_kept() -> None:
    reply = "Not for the first year: the tenant pays from year two [doc:doc-a, p.2]."
    answer, pieces, _, _ = ask(reply)
    assert answer.found
    assert answer.text == reply == "".join(pieces)


def test_no_candidates_means_not_found_without_calling_the_model() -> None:
    llm = FakeChatModel()
    answer = answer_question("Who pays?", [], llm=llm, counter=COUNTER, budget=ROOMY)
    stream = stream_answer("Who pays?", [], llm=llm, counter=COUNTER, budget=ROOMY)
    assert list(stream) == [NOT_FOUND]
    assert stream.answer() == answer
    assert (answer.found, answer.text) == (False, NOT_FOUND)
    assert llm.calls == []


def test_prompt_fits_the_budget_and_holds_the_rules_and_question() -> None:
    pool = candidates(count=30)
    budget = Budget(max_model_len=2_000, max_output_tokens=300, max_prompt_tokens=600)
    llm = FakeChatModel(["Yes [doc:doc-a, p.1]."])
    answer = answer_question(
        "Is rent due monthly?",
        pool,
        llm=llm,
        counter=COUNTER,
        budget=budget,
        titles={"doc-a": "lease.pdf"},
        cache_salt="t1",
        thinking=True,
    )
    [call] = llm.calls
    assert prompt_tokens(call.messages, COUNTER) <= budget.prompt_limit
    assert (call.thinking, call.cache_salt, call.max_tokens) == (True, "t1", 300)
    user = call.messages[1].content
    assert user.rstrip().endswith("Question: Is rent due monthly?")
    assert f'reply with exactly "{NOT_FOUND}"' in user
    assert 'name="lease.pdf"' in user
    assert answer.citations[0].chunk_numbers == [0]
    packed = pack_question("Is rent due monthly?", pool, counter=COUNTER, budget=budget)
    assert 0 < len(packed.chunks) < 30


def test_stream_yields_text_before_the_reply_ends_and_closing_stops_it() -> None:
    reply = "The tenant pays rent every month, in advance, by bank transfer [doc:doc-a, p.1]."
    llm = FakeChatModel([reply], stream_piece_chars=4)
    stream = stream_answer("Who pays?", candidates(), llm=llm, counter=COUNTER, budget=ROOMY)
    first = next(stream)
    assert reply.startswith(first)
    assert len(first) < len(reply)
    stream.close()
    with pytest.raises(RuntimeError, match="closed"):
        stream.answer()


def overlapping_chunks(count: int = 6) -> list[Chunk]:
    """Consecutive chunks of one text, each repeating the end of the one before."""
    words = [f"w{i}" for i in range(40 * count)]
    chunks, start = [], 0
    for n in range(count):
        first = max(0, 40 * n - 8)  # 8 words of overlap
        text = " ".join(words[first : 40 * (n + 1)])
        start = len(" ".join(words[:first])) + (1 if first else 0)
        chunks.append(
            Chunk(
                document_id="doc-a",
                number=n,
                text=text,
                page_start=n // 2 + 1,
                page_end=n // 2 + 1,
                char_start=start,
                char_end=start + len(text),
                token_count=len(text.split()),
            )
        )
    return chunks


def test_whole_document_candidates_pack_like_the_summary() -> None:
    from pipelines.context import pack_document
    from pipelines.prompts import ANALYST_INSTRUCTIONS

    chunks = overlapping_chunks()
    found = whole_document_candidates(
        "Who pays?",
        list(reversed(chunks)),
        counter=COUNTER,
        budget=ROOMY,
        titles={"doc-a": "lease.pdf"},
    )
    assert found is not None
    assert [s.chunk.number for s in found] == list(range(len(chunks)))
    question = pack_question(
        "Who pays?", found, counter=COUNTER, budget=ROOMY, titles={"doc-a": "lease.pdf"}
    )
    [summary] = pack_document(
        ANALYST_INSTRUCTIONS, chunks, "Summarise.", counter=COUNTER, budget=ROOMY, title="lease.pdf"
    )
    assert question.prefix == summary.prefix
    assert question.dropped == 0
    assert "w8 w9" in question.prefix
    assert question.prefix.count(" w35 ") == 1  # the overlap of chunks 0 and 1 shown once


def test_whole_document_candidates_are_none_when_the_document_does_not_fit() -> None:
    chunks = overlapping_chunks()
    whole = pack_question("Who pays?", whole_documents(chunks), counter=COUNTER, budget=ROOMY)
    tight = Budget(
        max_model_len=whole.prompt_tokens + 100,
        max_output_tokens=100,
        max_prompt_tokens=whole.prompt_tokens - 1,
    )
    assert whole_document_candidates("Who pays?", chunks, counter=COUNTER, budget=tight) is None
    fits = Budget(
        max_model_len=whole.prompt_tokens + 100,
        max_output_tokens=100,
        max_prompt_tokens=whole.prompt_tokens,
    )
    assert whole_document_candidates("Who pays?", chunks, counter=COUNTER, budget=fits)
    assert whole_document_candidates("Who pays?", [], counter=COUNTER, budget=fits) is None
