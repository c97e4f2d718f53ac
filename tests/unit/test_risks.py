"""Risk extraction with a scripted model: grounding, budgets, prompt prefixes, taxonomy."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import get_args

import pytest

from pipelines.chunking import chunk_pages
from pipelines.context import Budget
from pipelines.models import ChatMessage, Chunk, Document, Page, ScoredChunk
from pipelines.risk_taxonomy import (
    ContractCategoryId,
    RiskCategory,
    categories,
    groups,
    render_markdown,
)
from pipelines.risks import ContractFindingsOut, detect_kind, extract_risks
from services.adapters.llm_fake import FakeChatModel

REPO = Path(__file__).resolve().parents[2]
CUAD_CSV = Path("/work/shared/data/devset/cuad_category_descriptions.csv")
_TOKEN = re.compile(r"<\|[a-z_]+\|>|[A-Za-z0-9]+|[^\sA-Za-z0-9]|\n")
ROOMY = Budget(max_model_len=100_000, max_output_tokens=1_000, max_prompt_tokens=90_000)
TIGHT = Budget(max_model_len=2_000, max_output_tokens=300, max_prompt_tokens=1_700)
REQUIRED_CUAD = [
    "Uncapped Liability", "Cap on Liability", "Liquidated Damages",
    "Termination for Convenience", "Change of Control", "Anti-Assignment", "Non-Compete",
    "Exclusivity", "Renewal Term", "Notice Period to Terminate Renewal",
    "Most Favored Nation", "IP Ownership Assignment", "Audit Rights", "Governing Law",
    "Insurance", "Warranty Duration", "Minimum Commitment", "Revenue/Profit Sharing",
]


class WordCounter:
    def count(self, text: str) -> int:
        return len(_TOKEN.findall(text))


COUNTER = WordCounter()
DOC = Document(id="doc-1", tenant="t", filename="msa.pdf", sha256="0" * 64, size_bytes=1)
FILLER = " ".join(f"Section {i} sets out ordinary service levels." for i in range(8))
LD = "The Supplier shall pay liquidated damages of USD 10,000 for each day of delay."
CN = "甲方应于本合同签订后三十日内，向乙方支付违约金人民币100万元。"
CN_QUOTE = "甲方应于本合同签订后三十日内, 向乙方支付违约金 人民币１００万元"  # full-width, spaces


def contract_chunks(pages: int = 3, max_tokens: int = 80) -> list[Chunk]:
    texts = [f"MASTER SERVICES AGREEMENT\n\n{FILLER}"] + [FILLER] * (pages - 1)
    texts[1] += f"\n{LD}\n{CN}"
    return chunk_pages(DOC.id, [Page(number=n, text=t) for n, t in enumerate(texts, 1)],
                       COUNTER, max_tokens=max_tokens, overlap_tokens=10)


def reply(*findings: dict[str, object]) -> str:
    return json.dumps({"findings": list(findings)})


def finding(category: str, quote: str, page: int = 9, severity: str = "high") -> dict[str, object]:
    return {"category": category, "severity": severity, "reason": "costly\nif late",
            "quote": quote, "page": page}


def test_quotes_are_grounded_on_their_real_page_and_inventions_never_as_fact() -> None:
    llm = FakeChatModel([reply(
        finding("Liquidated Damages", "liquidated damages of USD 10,000 for each day", page=7),
        finding("Liquidated Damages", CN_QUOTE),
        finding("Termination for Convenience", "Either party may terminate at any time.", 1),
    )])
    report = extract_risks(DOC, contract_chunks(), kind="contract", llm=llm, counter=COUNTER,
                           budget=ROOMY, cache_salt="tenant-t")
    assert report.mode == "single"
    assert report.requests == 1
    grounded = [f for f in report.findings if f.grounded]
    assert [(f.category, f.page) for f in grounded] == [("Liquidated Damages", 2)] * 2
    assert grounded[0].reason == "costly if late"
    invented = [f for f in report.findings if not f.grounded]
    assert [f.category for f in invented] == ["Termination for Convenience"]
    assert invented[0].char_start is None
    call = llm.calls[0]
    assert (call.thinking, call.cache_salt, call.schema) == (False, "tenant-t",
                                                             "ContractFindingsOut")
    assert call.messages[-1].content.rstrip().endswith('{"findings": []} when none applies.')

    llm = FakeChatModel([reply(finding("Termination for Convenience", "invented words here"))])
    dropped = extract_risks(DOC, contract_chunks(), kind="contract", llm=llm, counter=COUNTER,
                            budget=ROOMY, drop_ungrounded=True)
    assert dropped.findings == []
    assert dropped.ungrounded_dropped == 1


def test_same_category_and_span_is_reported_once_most_severe_kept() -> None:
    llm = FakeChatModel([reply(
        finding("Liquidated Damages", "liquidated damages of USD 10,000", severity="medium"),
        finding("Liquidated Damages", "The Supplier shall pay liquidated damages of USD 10,000"),
        finding("Cap on Liability", "liquidated damages of USD 10,000", severity="low"),
    )])
    report = extract_risks(DOC, contract_chunks(), kind="contract", llm=llm, counter=COUNTER,
                           budget=ROOMY)
    assert [(f.category, f.severity) for f in report.findings] == [
        ("Liquidated Damages", "high"), ("Cap on Liability", "low")]


def _prompt_tokens(messages: list[ChatMessage]) -> int:
    return COUNTER.count("".join(f"<|im_start|>{m.role}\n{m.content}<|im_end|>\n"
                                 for m in messages))


def test_a_long_document_is_asked_per_group_over_candidates_within_budget() -> None:
    chunks = contract_chunks(pages=40)
    assert sum(c.token_count for c in chunks) > 1.5 * TIGHT.prompt_limit
    asked: list[str] = []

    def candidates(category: RiskCategory) -> list[ScoredChunk]:
        asked.append(category.id)
        return [ScoredChunk(chunk=c, score=1.0 / (1 + i)) for i, c in enumerate(chunks)]

    llm = FakeChatModel(responder=lambda _: reply(
        finding("Liquidated Damages", LD, page=1)))
    report = extract_risks(DOC, chunks, kind="contract", llm=llm, counter=COUNTER,
                           budget=TIGHT, candidates=candidates)
    assert report.mode == "groups"
    assert report.requests == len(groups("contract")) == len(llm.calls)
    assert asked == [c.id for c in categories("contract")]
    for call in llm.calls:
        assert _prompt_tokens(call.messages) <= TIGHT.prompt_limit
        assert call.max_tokens == TIGHT.max_output_tokens
    assert [(f.category, f.page, f.grounded) for f in report.findings] == [
        ("Liquidated Damages", 2, True)]


def test_requests_share_instructions_and_document_text_and_differ_only_in_the_task() -> None:
    chunks = contract_chunks(pages=40)
    few = [ScoredChunk(chunk=c, score=1.0) for c in chunks[:3]]
    llm = FakeChatModel(responder=lambda _: reply())
    extract_risks(DOC, chunks, kind="contract", llm=llm, counter=COUNTER, budget=TIGHT,
                  candidates=lambda _: few)
    systems = {call.messages[0].content for call in llm.calls}
    users = [call.messages[1].content for call in llm.calls]
    prefixes = {u[: u.index("Task:")] for u in users}
    assert len(systems) == 1
    assert len(prefixes) == 1
    assert len(set(users)) == len(users) > 1
    first_group = groups("contract")[0][1]
    assert all(f"- {c.id}:" in users[0] for c in first_group)
    assert "- Governing Law:" not in users[0]


def test_without_candidates_a_long_document_is_read_in_parts() -> None:
    chunks = contract_chunks(pages=20)
    llm = FakeChatModel(responder=lambda _: reply())
    report = extract_risks(DOC, chunks, kind="contract", llm=llm, counter=COUNTER,
                           budget=TIGHT)
    assert report.mode == "parts"
    assert report.requests == len(llm.calls) > 1
    assert all(_prompt_tokens(c.messages) <= TIGHT.prompt_limit for c in llm.calls)


def test_a_reply_that_never_validates_fails_its_group_only() -> None:
    chunks = contract_chunks(pages=40)
    replies = ["not json", "still not json"] + [reply(finding("Liquidated Damages", LD))] * 20
    llm = FakeChatModel(replies)
    report = extract_risks(DOC, chunks, kind="contract", llm=llm, counter=COUNTER,
                           budget=TIGHT, candidates=lambda _: [ScoredChunk(chunk=chunks[0],
                                                                           score=1.0)])
    assert report.failed == [groups("contract")[0][0]]
    assert [f.category for f in report.findings] == ["Liquidated Damages"]


def test_reply_schema_constrains_categories_to_the_taxonomy() -> None:
    schema = json.dumps(ContractFindingsOut.model_json_schema())
    assert all(json.dumps(c.id) in schema for c in categories("contract"))
    assert set(get_args(ContractCategoryId)) == {c.id for c in categories("contract")}
    with pytest.raises(ValueError, match="category"):
        ContractFindingsOut.model_validate({"findings": [finding("Made Up", "x")]})


def test_taxonomy_uses_cuad_names_and_bilingual_queries() -> None:
    ids = [c.id for c in categories("contract")]
    assert set(REQUIRED_CUAD) <= set(ids)
    assert len(ids) == len(set(ids))
    annual = {c.id for c in categories("annual_report")}
    assert {"Liquidity", "Going Concern", "FX Exposure", "Interest Rate Exposure",
            "Customer Concentration", "Related-Party Transactions", "Litigation",
            "Impairment", "Regulatory"} <= annual
    for category in categories("contract") + categories("annual_report"):
        assert re.search(r"[\u4e00-\u9fff]", category.query), category.id
        assert re.search(r"[a-z]", category.query), category.id
        assert category.description
        assert category.severity


def test_contract_ids_are_exact_cuad_category_names() -> None:
    if not CUAD_CSV.exists():
        pytest.skip("dev set not present")
    with CUAD_CSV.open(encoding="utf-8-sig") as handle:
        cuad = {row[0].removeprefix("Category: ").strip() for row in csv.reader(handle)}
    assert set(REQUIRED_CUAD) <= cuad
    assert {c.id for c in categories("contract")} <= cuad


def test_taxonomy_doc_is_in_sync_with_the_code() -> None:
    assert (REPO / "docs" / "risk_taxonomy.md").read_text(encoding="utf-8") == render_markdown()


@pytest.mark.parametrize(("text", "kind"), [
    ("ANNUAL REPORT 2023\nForm 10-K for the fiscal year ended December 31. Risk Factors. "
     "We entered into a credit agreement with our lenders.", "annual_report"),
    ("某某股份有限公司2023年年度报告\n第三节 管理层讨论与分析 营业收入 净利润", "annual_report"),
    ("LICENSE AGREEMENT\nThis Agreement is entered into by the parties hereto. WHEREAS "
     "Licensor owns the shareholders' rights; the Licensee shall pay royalties.", "contract"),
    ("技术服务合同\n甲方：某公司 乙方：某公司 本合同自签订之日起生效。", "contract"),
])
def test_detect_kind(text: str, kind: str) -> None:
    chunk = Chunk(document_id="d", number=0, text=text, page_start=1, page_end=1,
                  char_start=0, char_end=len(text), token_count=10)
    assert detect_kind([chunk]) == kind


def test_only_some_categories_can_be_asked() -> None:
    chunks = contract_chunks(pages=40)
    stranger = chunks[5].model_copy(update={"document_id": "someone-elses", "text": "SECRET"})
    few = [ScoredChunk(chunk=c, score=1.0) for c in [*chunks[:3], stranger]]
    llm = FakeChatModel(responder=lambda _: reply(finding("Cap on Liability", LD)))
    report = extract_risks(DOC, chunks, kind="contract", llm=llm, counter=COUNTER,
                           budget=TIGHT, candidates=lambda _: few,
                           only=["Liquidated Damages", "Governing Law"])
    tasks = [call.messages[-1].content for call in llm.calls]
    assert report.requests == len(tasks) == 2
    assert report.findings == []  # a category not asked is not reported
    assert not any("SECRET" in m.content for call in llm.calls for m in call.messages)
    assert "- Liquidated Damages:" in tasks[0]
    assert "- Cap on Liability:" not in tasks[0]
    assert "- Governing Law:" in tasks[1]
    with pytest.raises(ValueError, match="Going Concern"):
        extract_risks(DOC, chunks, kind="contract", llm=llm, counter=COUNTER, budget=TIGHT,
                      only=["Going Concern"])


def test_the_models_page_breaks_a_tie_that_grounding_cannot() -> None:
    text = "Intro paragraph.\n\nThe fee is due monthly.\n\nLate fees apply at five percent."
    one = Chunk(document_id=DOC.id, number=0, text=text, page_start=1, page_end=2,
                char_start=0, char_end=len(text), token_count=20)
    llm = FakeChatModel([reply(finding("Price Restrictions", "Late fees apply", page=2),
                               finding("Minimum Commitment", "The fee is due monthly", page=5))])
    report = extract_risks(DOC, [one], kind="contract", llm=llm, counter=COUNTER, budget=ROOMY)
    assert {f.category: f.page for f in report.findings} == {
        "Price Restrictions": 2, "Minimum Commitment": 1}


def test_a_risk_request_starts_like_the_summary_and_the_questions() -> None:
    from pipelines.answers import pack_question, whole_documents
    from pipelines.context import pack_document
    from pipelines.prompts import ANALYST_INSTRUCTIONS
    from pipelines.summaries import summary_task

    chunks = contract_chunks()
    llm = FakeChatModel([reply()])
    extract_risks(DOC, chunks, kind="contract", llm=llm, counter=COUNTER, budget=ROOMY)
    [call] = llm.calls
    [summary] = pack_document(ANALYST_INSTRUCTIONS, chunks, summary_task("contract", "en"),
                              counter=COUNTER, budget=ROOMY, title=DOC.filename)
    question = pack_question("Who pays?", whole_documents(chunks), counter=COUNTER,
                             budget=ROOMY, titles={DOC.id: DOC.filename})
    assert call.messages[0].content == summary.messages[0]["content"]
    assert call.messages[0].content.startswith(ANALYST_INSTRUCTIONS)
    documents = summary.messages[1]["content"].split("</documents>")[0] + "</documents>\n\n"
    assert call.messages[1].content.startswith(documents)
    assert summary.prefix == question.prefix
    task = call.messages[1].content.removeprefix(documents)
    assert task.startswith("Task: report the risks this contract contains")
    assert "copied verbatim" in task
    assert "- Liquidated Damages:" in task
