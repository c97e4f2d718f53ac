"""Risk extraction with a scripted model: grounding, budgets, prompt prefixes, taxonomy."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import get_args

import pytest

from pipelines.chunking import chunk_pages
from pipelines.context import Budget
from pipelines.errors import LlmTimeout, LlmUnavailable
from pipelines.models import ChatMessage, Chunk, Document, Page, ScoredChunk
from pipelines.prompts import ANALYST_INSTRUCTIONS
from pipelines.risk_candidates import MIN_SCORE, Selection, select_candidates
from pipelines.risk_models import ContractFindingsOut
from pipelines.risk_taxonomy import (
    ContractCategoryId,
    RiskCategory,
    categories,
    render_markdown,
)
from pipelines.risks import detect_kind, extract_risks
from services.adapters.llm_fake import FakeChatModel

REPO = Path(__file__).resolve().parents[2]
CUAD_CSV = Path("/work/shared/data/devset/cuad_category_descriptions.csv")
_TOKEN = re.compile(r"<\|[a-z_]+\|>|[A-Za-z0-9]+|[^\sA-Za-z0-9]|\n")
ROOMY = Budget(max_model_len=100_000, max_output_tokens=1_000, max_prompt_tokens=90_000)
TIGHT = Budget(max_model_len=2_000, max_output_tokens=300, max_prompt_tokens=1_700)
REQUIRED_CUAD = [
    "Uncapped Liability",
    "Cap on Liability",
    "Liquidated Damages",
    "Termination for Convenience",
    "Change of Control",
    "Anti-Assignment",
    "Non-Compete",
    "Exclusivity",
    "Renewal Term",
    "Notice Period to Terminate Renewal",
    "Most Favored Nation",
    "IP Ownership Assignment",
    "Audit Rights",
    "Governing Law",
    "Insurance",
    "Warranty Duration",
    "Minimum Commitment",
    "Revenue/Profit Sharing",
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
    return chunk_pages(
        DOC.id,
        [Page(number=n, text=t) for n, t in enumerate(texts, 1)],
        COUNTER,
        max_tokens=max_tokens,
        overlap_tokens=10,
    )


def reply(*findings: dict[str, object]) -> str:
    return json.dumps({"findings": list(findings)})


def finding(
    category: str, quote: str, passage: int = 1, severity: str = "high"
) -> dict[str, object]:
    return {
        "passage": passage,
        "category": category,
        "severity": severity,
        "reason": "costly\nif late",
        "quote": quote,
    }


MODEL_ONLY = Selection(least_wording=0)
"""No model-free findings: what the model's reply alone gives."""


def _prompt_tokens(messages: list[ChatMessage]) -> int:
    return COUNTER.count(
        "".join(f"<|im_start|>{m.role}\n{m.content}<|im_end|>\n" for m in messages)
    )


def by_id(*ids: str) -> list[RiskCategory]:
    known = {c.id: c for c in categories("contract")}
    return [known[i] for i in ids]


def unit(text: str, start: int, page: int = 1, number: int = 0) -> Chunk:
    return Chunk(
        document_id=DOC.id,
        number=number,
        text=text,
        page_start=page,
        page_end=page,
        char_start=start,
        char_end=start + len(text),
        token_count=20,
    )


def retrieval(mapping: dict[str, list[Chunk]]) -> Callable[[RiskCategory], list[ScoredChunk]]:
    """Scripted retrieval: category id -> passages, best first (scores 10, 9, ...)."""

    def candidates(category: RiskCategory) -> list[ScoredChunk]:
        return [
            ScoredChunk(chunk=c, score=MIN_SCORE + 10.0 - n)
            for n, c in enumerate(mapping.get(category.id, []))
        ]

    return candidates


def ld_passage(chunks: list[Chunk]) -> Chunk:
    return next(c for c in chunks if "liquidated" in c.text)


def test_selection_keeps_the_best_passages_within_the_budget_once_each() -> None:
    a, b, c, d = (unit(f"text {n}", 100 * n, number=n) for n in range(4))
    overlapping = unit("text 0 and more", 0, number=9)
    ranked = [
        (
            by_id("Liquidated Damages")[0],
            [
                ScoredChunk(chunk=b, score=5.0),
                ScoredChunk(chunk=c, score=4.0),
                ScoredChunk(chunk=d, score=3.0),
            ],
        ),
        (
            by_id("Cap on Liability")[0],
            [ScoredChunk(chunk=overlapping, score=6.0), ScoredChunk(chunk=b, score=0.5)],
        ),
        (by_id("Governing Law")[0], [ScoredChunk(chunk=a, score=-1.0)]),
    ]
    chosen = select_candidates(ranked, Selection(per_category=2, min_score=0.0, max_passages=10))
    assert [(x.chunk.number, [k.id for k in x.categories]) for x in chosen] == [
        (9, ["Cap on Liability"]),
        (1, ["Liquidated Damages", "Cap on Liability"]),
        (2, ["Liquidated Damages"]),
    ]  # document order; d beyond per_category, a below min
    capped = select_candidates(ranked, Selection(per_category=2, min_score=0.0, max_passages=1))
    assert [x.chunk.number for x in capped] == [9]


def test_quotes_are_the_documents_own_text_on_their_real_page() -> None:
    chunks = contract_chunks()
    passage = ld_passage(chunks)
    llm = FakeChatModel(
        [
            reply(
                finding("Liquidated Damages", "LIQUIDATED  damages of usd 10,000 for each day"),
            )
        ]
    )
    report = extract_risks(
        DOC,
        chunks,
        kind="contract",
        llm=llm,
        budget=ROOMY,
        candidates=retrieval({"Liquidated Damages": [passage]}),
        cache_salt="tenant-t",
        only=["Liquidated Damages"],
    )
    [found] = report.findings
    assert (found.category, found.page, found.grounded) == ("Liquidated Damages", 2, True)
    assert found.quote == "liquidated damages of USD 10,000 for each day"  # not the model's
    assert found.char_start is not None
    assert found.char_end is not None
    assert found.reason == "costly if late"
    assert passage.char_start <= found.char_start < found.char_end <= passage.char_end
    call = llm.calls[0]
    assert (call.thinking, call.cache_salt, call.schema) == (
        False,
        "tenant-t",
        "ContractFindingsOut",
    )
    assert call.max_tokens is not None
    assert call.max_tokens < ROOMY.max_output_tokens


def test_a_pointer_not_in_the_text_gives_an_unverified_finding_hidden_by_default() -> None:
    chunks = contract_chunks()
    passage = ld_passage(chunks)
    llm = FakeChatModel(
        [reply(finding("Liquidated Damages", "The Supplier pays a penalty for every late day."))]
    )
    report = extract_risks(
        DOC,
        chunks,
        kind="contract",
        llm=llm,
        budget=ROOMY,
        selection=MODEL_ONLY,
        candidates=retrieval({"Liquidated Damages": [passage]}),
        only=["Liquidated Damages"],
    )
    [found] = report.findings
    assert not found.grounded
    assert found.quote in " ".join(passage.text.split())  # the passage's own sentence
    assert "Supplier" in found.quote
    assert "penalty" not in found.quote
    assert report.unverified == 1
    assert report.shown().findings == []
    assert report.shown(include_unverified=True).findings == [found]
    assert report.shown().unverified_hidden == 1


def test_the_pointer_is_located_in_the_passage_shown_not_elsewhere() -> None:
    first = "The Supplier shall pay liquidated damages on delay. "
    second = "Notices go by mail. The Supplier shall pay liquidated damages on delay."
    text = first + second
    whole = unit(text, 0)
    shown = unit(second, len(first), number=1)
    llm = FakeChatModel(
        [reply(finding("Liquidated Damages", "the supplier shall pay liquidated damages"))]
    )
    report = extract_risks(
        DOC,
        [whole],
        kind="contract",
        llm=llm,
        budget=ROOMY,
        candidates=retrieval({"Liquidated Damages": [shown]}),
    )
    [found] = report.findings
    assert found.grounded
    assert found.char_start == len(first) + second.index("The Supplier")

    llm = FakeChatModel([reply(finding("Liquidated Damages", "Notices go by mail"))])
    elsewhere = extract_risks(
        DOC,
        [whole],
        kind="contract",
        llm=llm,
        budget=ROOMY,
        candidates=retrieval({"Liquidated Damages": [unit(first, 0)]}),
    )
    assert not elsewhere.findings[0].grounded  # in the document, but not in what it saw


def test_a_category_the_passage_was_not_retrieved_for_or_a_wrong_number_is_ignored() -> None:
    chunks = contract_chunks()
    passage = ld_passage(chunks)
    llm = FakeChatModel(
        [reply(finding("Cap on Liability", LD), finding("Liquidated Damages", LD, passage=7))]
    )
    report = extract_risks(
        DOC,
        chunks,
        kind="contract",
        llm=llm,
        budget=ROOMY,
        selection=MODEL_ONLY,
        candidates=retrieval({"Liquidated Damages": [passage]}),
    )
    assert report.findings == []
    assert report.passages == 1


def test_same_category_and_span_is_reported_once_most_severe_kept() -> None:
    chunks = contract_chunks()
    passage = ld_passage(chunks)
    llm = FakeChatModel(
        [
            reply(
                finding(
                    "Liquidated Damages", "liquidated damages of USD 10,000", severity="medium"
                ),
                finding(
                    "Liquidated Damages", "The Supplier shall pay liquidated damages of USD 10,000"
                ),
                finding("Cap on Liability", "liquidated damages of USD 10,000", severity="low"),
            )
        ]
    )
    report = extract_risks(
        DOC,
        chunks,
        kind="contract",
        llm=llm,
        budget=ROOMY,
        candidates=retrieval({"Liquidated Damages": [passage], "Cap on Liability": [passage]}),
    )
    assert [(f.category, f.severity) for f in report.findings] == [
        ("Liquidated Damages", "high"),
        ("Cap on Liability", "low"),
    ]


def test_passages_go_in_small_batches_each_naming_its_categories() -> None:
    chunks = contract_chunks(pages=40)
    ids = [c.id for c in categories("contract")]
    mapping = {cid: chunks[4 * n : 4 * n + 3 : 2] for n, cid in enumerate(ids)}
    llm = FakeChatModel(responder=lambda _: reply())
    selection = Selection(per_category=2, min_score=0.0, max_passages=20, batch_size=6)
    progress: list[tuple[int, int, str]] = []
    report = extract_risks(
        DOC,
        chunks,
        kind="contract",
        llm=llm,
        budget=TIGHT,
        candidates=retrieval(mapping),
        selection=selection,
        progress=lambda d, t, s: progress.append((d, t, s)),
    )
    assert report.passages == 20
    assert report.requests == len(llm.calls) == 4  # 6 + 6 + 6 + 2
    for call in llm.calls:
        assert _prompt_tokens(call.messages) <= TIGHT.prompt_limit
        assert "SECRET" not in call.messages[1].content
    first = llm.calls[0].messages[1].content
    assert first.count("<passage n=") == 6
    assert "- passage 1: " in first
    assert "- passage 6: " in first
    assert [(d, t) for d, t, _ in progress] == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]
    systems = {call.messages[0].content for call in llm.calls}
    assert len(systems) == 1
    assert systems.pop().startswith(ANALYST_INSTRUCTIONS)


def test_a_batch_that_times_out_or_never_validates_is_split_not_repeated() -> None:
    chunks = contract_chunks(pages=10)
    mapping = {"Liquidated Damages": chunks[0:8:2]}  # four passages that do not overlap
    calls: list[int] = []

    def responder(messages: list[ChatMessage]) -> str:
        shown = messages[1].content.count("<passage n=")
        calls.append(shown)
        if shown > 1:
            raise LlmTimeout("slow")
        if "Section 3 " in messages[1].content.split("</passages>")[0]:
            return "not json"
        return reply()

    llm = FakeChatModel(responder=responder)
    report = extract_risks(
        DOC,
        chunks,
        kind="contract",
        llm=llm,
        budget=ROOMY,
        candidates=retrieval(mapping),
        selection=Selection(per_category=4, min_score=0.0, max_passages=10, batch_size=4),
    )
    assert calls[:3] == [4, 2, 1]  # split in halves, never the same request again
    assert max(calls[1:]) < 4
    assert len(report.failed) == sum(1 for c in chunks[0:8:2] if "Section 3 " in c.text) > 0


def test_a_model_that_is_down_raises_for_the_job_to_wait() -> None:
    chunks = contract_chunks()
    with pytest.raises(LlmUnavailable):
        extract_risks(
            DOC,
            chunks,
            kind="contract",
            llm=FakeChatModel(unavailable=True),
            budget=ROOMY,
            candidates=retrieval({"Liquidated Damages": chunks[:1]}),
        )


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
    assert {
        "Liquidity",
        "Going Concern",
        "FX Exposure",
        "Interest Rate Exposure",
        "Customer Concentration",
        "Related-Party Transactions",
        "Litigation",
        "Impairment",
        "Regulatory",
    } <= annual
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


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (
            "ANNUAL REPORT 2023\nForm 10-K for the fiscal year ended December 31. Risk Factors. "
            "We entered into a credit agreement with our lenders.",
            "annual_report",
        ),
        (
            "某某股份有限公司2023年年度报告\n第三节 管理层讨论与分析 营业收入 净利润",
            "annual_report",
        ),
        (
            "LICENSE AGREEMENT\nThis Agreement is entered into by the parties hereto. WHEREAS "
            "Licensor owns the shareholders' rights; the Licensee shall pay royalties.",
            "contract",
        ),
        ("技术服务合同\n甲方：某公司 乙方：某公司 本合同自签订之日起生效。", "contract"),
    ],
)
def test_detect_kind(text: str, kind: str) -> None:
    chunk = Chunk(
        document_id="d",
        number=0,
        text=text,
        page_start=1,
        page_end=1,
        char_start=0,
        char_end=len(text),
        token_count=10,
    )
    assert detect_kind([chunk]) == kind


def test_only_some_categories_can_be_asked() -> None:
    chunks = contract_chunks(pages=10)
    stranger = chunks[5].model_copy(update={"document_id": "someone-elses", "text": "SECRET"})
    few = [ScoredChunk(chunk=c, score=MIN_SCORE + 1) for c in [*chunks[:3], stranger]]
    llm = FakeChatModel(responder=lambda _: reply(finding("Cap on Liability", LD)))
    report = extract_risks(
        DOC,
        chunks,
        kind="contract",
        llm=llm,
        budget=TIGHT,
        selection=MODEL_ONLY,
        candidates=lambda _: few,
        only=["Liquidated Damages", "Governing Law"],
    )
    tasks = [call.messages[-1].content for call in llm.calls]
    assert report.findings == []  # a category not asked is not reported
    assert not any("SECRET" in m.content for call in llm.calls for m in call.messages)
    assert all("- Cap on Liability:" not in t for t in tasks)
    assert any("- Liquidated Damages:" in t for t in tasks)
    assert any("- Governing Law:" in t for t in tasks)
    with pytest.raises(ValueError, match="Going Concern"):
        extract_risks(
            DOC,
            chunks,
            kind="contract",
            llm=llm,
            budget=TIGHT,
            selection=MODEL_ONLY,
            candidates=lambda _: few,
            only=["Going Concern"],
        )


def test_a_passage_with_the_categorys_own_wording_is_a_finding_without_the_model() -> None:
    """The small local model often answers nothing: a kept passage that holds at least
    `least_wording` of the category's own clause phrases is reported anyway (method
    "wording", the phrases in the reason), quoting its sentence that holds them."""
    text = (
        "Payment is due monthly. This Agreement shall be governed by and construed in "
        "accordance with the laws of the State of New York. Notices go by mail."
    )
    passage = unit(text, 0)
    llm = FakeChatModel(responder=lambda _: reply())  # the model finds nothing
    report = extract_risks(
        DOC,
        [passage],
        kind="contract",
        llm=llm,
        budget=ROOMY,
        candidates=retrieval({"Governing Law": [passage]}),
        selection=Selection(least_wording=2),
    )
    [found] = report.shown().findings
    assert (found.category, found.method, found.grounded) == ("Governing Law", "wording", True)
    assert found.quote.startswith("This Agreement shall be governed by")
    assert found.quote.endswith("State of New York.")
    assert "'governed by'" in found.reason
    assert len(llm.calls) == 1  # still asked: a model finding would grade it
    assert (
        extract_risks(
            DOC,
            [passage],
            kind="contract",
            llm=llm,
            budget=ROOMY,
            candidates=retrieval({"Governing Law": [passage]}),
            selection=Selection(least_wording=9),
        ).findings
        == []
    )


def test_a_single_passage_that_still_times_out_makes_the_job_wait_not_finish_empty() -> None:
    chunks = contract_chunks(pages=10)
    llm = FakeChatModel(responder=lambda _: (_ for _ in ()).throw(LlmTimeout("slow")))
    with pytest.raises(LlmTimeout):
        extract_risks(
            DOC,
            chunks,
            kind="contract",
            llm=llm,
            budget=ROOMY,
            candidates=retrieval({"Liquidated Damages": chunks[0:4:2]}),
            selection=MODEL_ONLY,
        )
