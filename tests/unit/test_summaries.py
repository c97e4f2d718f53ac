"""Summaries with a scripted model: one pass or map-reduce by budget, language, pages."""

from __future__ import annotations

import json
import re

import pytest

from pipelines.answers import pack_question
from pipelines.context import Budget, pack_document
from pipelines.errors import PromptTooLong
from pipelines.models import Chunk, Document, ScoredChunk
from pipelines.prompts import ANALYST_INSTRUCTIONS, detect_language, prompt_tokens
from pipelines.summaries import summarize, summary_task
from pipelines.summary_models import ContractReply, ContractSummary, ReportSummary
from services.adapters.llm_fake import FakeChatModel

_TOKEN = re.compile(r"<\|[a-z_]+\|>|[A-Za-z0-9]+|[^\sA-Za-z0-9]|\n")
ROOMY = Budget(max_model_len=100_000, max_output_tokens=1_000, max_prompt_tokens=90_000)
TIGHT = Budget(max_model_len=2_000, max_output_tokens=400, max_prompt_tokens=900)
CONTRACT_FIELDS = list(ContractSummary.model_fields)


class WordCounter:
    """A fake TokenCounter: special tokens, words, marks and newlines count one each."""

    def count(self, text: str) -> int:
        return len(_TOKEN.findall(text))


COUNTER = WordCounter()


def doc(document_id: str = "doc-a") -> Document:
    return Document(id=document_id, tenant="t", filename="lease.pdf", sha256="0" * 64, size_bytes=1)


def chunks_of(
    count: int, words: int = 40, document_id: str = "doc-a", text: str | None = None
) -> list[Chunk]:
    made = []
    for n in range(count):
        body = text or " ".join(f"c{n}w{i}" for i in range(words)) + "."
        made.append(
            Chunk(
                document_id=document_id,
                number=n,
                text=body,
                page_start=n + 1,
                page_end=n + 1,
                section_path=[f"{n // 3 + 1} Section"],
                char_start=n * 10_000,
                char_end=n * 10_000 + len(body),
                token_count=words,
            )
        )
    return made


def contract_reply(words: int = 3, quotes: tuple[str, ...] = ()) -> str:
    value = {"text": " ".join(["term"] * words), "quotes": list(quotes)}
    return json.dumps({name: value for name in CONTRACT_FIELDS})


def within(llm: FakeChatModel, budget: Budget) -> list[int]:
    sizes = [prompt_tokens(call.messages, COUNTER) for call in llm.calls]
    assert all(size <= budget.prompt_limit for size in sizes), sizes
    return sizes


def test_a_document_that_fits_is_summarised_in_one_call() -> None:
    llm = FakeChatModel([contract_reply(quotes=("c1w3 c1w4 c1w5", "not in the document"))])
    chunks = chunks_of(5)
    summary = summarize(
        doc(),
        chunks,
        kind="contract",
        llm=llm,
        counter=COUNTER,
        budget=ROOMY,
        cache_salt="tenant-t",
    )
    assert isinstance(summary, ContractSummary)
    assert len(llm.calls) == 1
    call = llm.calls[0]
    assert (call.kind, call.schema, call.thinking, call.cache_salt) == (
        "structured",
        "ContractReply",
        False,
        "tenant-t",
    )
    assert call.max_tokens == ROOMY.max_output_tokens
    assert summary.payment.pages == [2]  # where the quote is (the model gives no page)
    assert summary.payment.verified
    [evidence] = summary.payment.evidence  # the quote not in the document is no evidence
    assert (evidence.quote, evidence.page, evidence.page_end) == ("c1w3 c1w4 c1w5", 2, 2)
    assert chunks[1].text[evidence.char_start - chunks[1].char_start :][:14] == "c1w3 c1w4 c1w5"
    assert summary.parties.text == "term term term"
    schema = ContractReply.model_json_schema()["$defs"]["StatementReply"]
    assert schema["required"] == ["text", "quotes"]  # the model must quote
    user = call.messages[1].content
    assert "Write every text value in English." in user
    assert user.index("</documents>") < user.index("Task: summarise the contract")
    assert "part 1 of" not in user


def test_a_long_document_goes_map_reduce_with_every_prompt_in_budget() -> None:
    chunks = chunks_of(12)
    parts = pack_document(
        ANALYST_INSTRUCTIONS,
        chunks,
        summary_task("contract", "en"),
        counter=COUNTER,
        budget=TIGHT,
        title="lease.pdf",
    )
    assert len(parts) > 1
    firsts = [p.chunks[0].number for p in parts]
    llm = FakeChatModel([contract_reply(quotes=(f"c{n}w1 c{n}w2",)) for n in firsts])
    llm.add_replies(contract_reply(words=5, quotes=("c11w0 c11w1 c11w2", "c99w1 c99w2")))
    summary = summarize(doc(), chunks, kind="contract", llm=llm, counter=COUNTER, budget=TIGHT)
    assert len(llm.calls) == len(parts) + 1  # map per part, one merge
    within(llm, TIGHT)
    for n, call in enumerate(llm.calls[:-1], 1):
        assert f"part {n} of {len(parts)}" in call.messages[1].content
    merge = llm.calls[-1].messages[1].content
    assert f"Below are {len(parts)} partial summaries" in merge
    assert merge.count("Part ") == len(parts)
    assert summary.termination.text == "term term term term term"
    assert summary.termination.pages == [12]  # the merge's own quote found; c99 is nowhere
    assert summary.termination.verified


def test_partials_too_big_for_one_merge_are_merged_in_rounds() -> None:
    chunks = chunks_of(30)
    parts = pack_document(
        ANALYST_INSTRUCTIONS,
        chunks,
        summary_task("contract", "en"),
        counter=COUNTER,
        budget=TIGHT,
        title="lease.pdf",
    )
    assert len(parts) >= 4
    big = contract_reply(words=9, quotes=("c0w1 c0w2",))
    llm = FakeChatModel(responder=lambda messages: big)
    summarize(doc(), chunks, kind="contract", llm=llm, counter=COUNTER, budget=TIGHT)
    merges = [
        c.messages[1].content for c in llm.calls if "partial summaries" in c.messages[1].content
    ]
    assert len(llm.calls) == len(parts) + len(merges)
    assert len(merges) >= 2  # one merge of every partial would not fit
    assert all(merge.count("Part ") < len(parts) for merge in merges)
    assert "Below are 2 partial summaries" in merges[-1]
    within(llm, TIGHT)


def test_merging_that_cannot_fit_is_refused() -> None:
    chunks = chunks_of(12)
    huge = contract_reply(words=60, quotes=("c0w1 c0w2",))
    llm = FakeChatModel(responder=lambda messages: huge)
    with pytest.raises(PromptTooLong, match="partial summaries"):
        summarize(doc(), chunks, kind="contract", llm=llm, counter=COUNTER, budget=TIGHT)
    within(llm, TIGHT)


def test_chinese_document_gets_the_chinese_instruction() -> None:
    text = "甲方应于每月五日前向乙方支付租金人民币五万元整。本合同适用中华人民共和国法律。" * 3
    chunks = chunks_of(3, text=text)
    assert detect_language(chunks) == "zh"
    reply = json.dumps(
        {name: {"text": "租金每月支付", "pages": [1]} for name in CONTRACT_FIELDS},
        ensure_ascii=False,
    )
    llm = FakeChatModel([reply])
    summary = summarize(doc(), chunks, kind="contract", llm=llm, counter=COUNTER, budget=ROOMY)
    assert summary.payment.text == "租金每月支付"
    user = llm.calls[0].messages[1].content
    assert "请用简体中文" in user
    assert "Write every text value in English." not in user


def test_language_is_told_by_the_share_of_chinese_characters() -> None:
    english = chunks_of(2, text="The Tenant shall pay rent of RMB 50,000 (人民币) monthly.")
    report = chunks_of(2, text="2024年营业收入 1,234.5 亿元, 同比增长 3.1%, ROE 12%, EBITDA。")
    assert detect_language(english) == "en"
    assert detect_language(report) == "zh"
    assert detect_language([]) == "en"


def test_annual_report_figures_are_verified_only_where_the_quote_shows_the_value() -> None:
    text = (
        "Revenue for 2024 was RMB 1,234.5 million. Net profit was RMB 98 million. "
        "The bank lends to small firms in Jiangsu. Credit risk rose."
    )
    reply = json.dumps(
        {
            "business": {"text": "A bank.", "quotes": ["lends to small firms in Jiangsu"]},
            "key_figures": [
                {
                    "name": "Revenue",
                    "value": "RMB 1234.5m",
                    "period": "2024",
                    "page": 7,
                    "quote": "Revenue for 2024 was RMB 1,234.5 million",
                },
                {
                    "name": "Profit",
                    "value": "RMB 17 million",
                    "period": "2024",
                    "quote": "Net profit was RMB 98 million",
                },  # found, but not this value
                {"name": "Assets", "value": "RMB 5bn", "period": "2024", "quote": "assets 5bn"},
            ],
            "outlook": {"text": "", "quotes": ["Credit risk rose"]},
            "major_risks": [
                {"text": "Credit risk rose.", "quotes": []},
                {"text": " ", "quotes": []},
            ],
        }
    )
    llm = FakeChatModel([reply])
    summary = summarize(
        doc(), chunks_of(3, text=text), kind="annual_report", llm=llm, counter=COUNTER, budget=ROOMY
    )
    assert isinstance(summary, ReportSummary)
    assert llm.calls[0].schema == "ReportReply"
    assert [(f.name, f.verified, f.page) for f in summary.key_figures] == [
        ("Revenue", True, 1),
        ("Profit", False, None),
        ("Assets", False, None),
    ]
    assert summary.key_figures[0].evidence[0].quote == "Revenue for 2024 was RMB 1,234.5 million"
    assert summary.business.verified
    assert summary.business.pages == [1]
    assert (summary.outlook.verified, summary.outlook.pages) == (False, [])  # no text
    assert [(r.text, r.verified) for r in summary.major_risks] == [("Credit risk rose.", True)]


def test_a_statement_whose_quotes_are_nowhere_is_unverified_with_no_pages() -> None:
    reply = json.dumps(
        {
            name: {
                "text": "payment: $17.00",
                "pages": [2],
                "quotes": ["The price is $17.00 per unit."],
            }
            for name in CONTRACT_FIELDS
        }
    )
    summary = summarize(
        doc(),
        chunks_of(3),
        kind="contract",
        llm=FakeChatModel([reply]),
        counter=COUNTER,
        budget=ROOMY,
    )
    assert summary.payment.text == "payment: $17.00"
    assert (summary.payment.verified, summary.payment.evidence, summary.payment.pages) == (
        False,
        [],
        [],
    )


def test_a_merge_that_drops_the_quotes_keeps_the_evidence_of_its_parts() -> None:
    chunks = chunks_of(12)
    parts = pack_document(
        ANALYST_INSTRUCTIONS,
        chunks,
        summary_task("contract", "en"),
        counter=COUNTER,
        budget=TIGHT,
        title="lease.pdf",
    )
    llm = FakeChatModel(
        [
            contract_reply(quotes=(f"c{p.chunks[-1].number}w5 c{p.chunks[-1].number}w6",))
            for p in parts
        ]
    )
    llm.add_replies(contract_reply(words=5, quotes=()))
    summary = summarize(doc(), chunks, kind="contract", llm=llm, counter=COUNTER, budget=TIGHT)
    assert len(llm.calls) == len(parts) + 1
    assert summary.parties.verified
    assert summary.parties.pages == sorted({p.chunks[-1].page_start for p in parts})[:3]


def test_summaries_stored_before_evidence_still_read_as_unverified() -> None:
    old = {name: {"text": "term", "pages": [3]} for name in CONTRACT_FIELDS}
    summary = ContractSummary.model_validate(old)
    assert (summary.parties.verified, summary.parties.evidence) == (False, [])


def test_a_document_without_chunks_is_not_sent() -> None:
    llm = FakeChatModel()
    summary = summarize(doc(), [], kind="contract", llm=llm, counter=COUNTER, budget=ROOMY)
    assert llm.calls == []
    assert summary.parties.text == ""
    assert summary.parties.pages == []


def test_summary_and_question_share_the_prompt_prefix() -> None:
    chunks = chunks_of(5)
    [part] = pack_document(
        ANALYST_INSTRUCTIONS,
        chunks,
        summary_task("contract", "en"),
        counter=COUNTER,
        budget=ROOMY,
        title="lease.pdf",
    )
    candidates = [ScoredChunk(chunk=c, score=1.0 / (c.number + 1)) for c in chunks]
    question = pack_question(
        "Who pays the rent?",
        candidates,
        counter=COUNTER,
        budget=ROOMY,
        titles={"doc-a": "lease.pdf"},
    )
    assert part.prefix == question.prefix
    assert part.messages[0] == question.messages[0]
    llm = FakeChatModel([contract_reply()])
    summarize(doc(), chunks, kind="contract", llm=llm, counter=COUNTER, budget=ROOMY)
    sent = llm.calls[0].messages
    assert sent[0].content == question.messages[0]["content"]
    documents = question.messages[1]["content"].split("</documents>")[0]
    assert sent[1].content.startswith(documents + "</documents>\n\n")
