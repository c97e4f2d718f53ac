"""Risk findings of a contract or an annual report, every quote checked against the text.

`extract_risks` asks the model for findings of the taxonomy's categories
(`pipelines.risk_taxonomy`), thinking off, with a reply schema whose `category` is a
`Literal` of the category ids (so `response_format` constrains it):

- a document that fits the budget: one request, all categories (`pack_document`);
- a longer one, with `candidates` (the service backs it with `pipelines.passages.search_passages`):
  one request per category group over that group's candidate passages (`pack_context`,
  the categories' best passages first, taken in turn);
- a longer one without `candidates`: one request per part of the document (map).

Prompts are laid out like every analysis (`pipelines.prompts`): the shared
`ANALYST_INSTRUCTIONS` first, the document text next, the task (risk rules, category list,
reply shape) last, so a risk request shares its prefix with the summary and the questions
over the same text in vLLM's prefix cache. Every quote is located with `pipelines.grounding`:
a quote found gets `grounded=True` and the page where it really is; one not found is
kept with `grounded=False` (never to be shown as fact) or dropped (`drop_ungrounded`).
Findings of one category over the same (overlapping) span are merged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pipelines.context import Budget, PackedContext, pack_context, pack_document
from pipelines.errors import LlmOutputInvalid
from pipelines.grounding import QuoteMatch, SourceText, normalise
from pipelines.models import ChatMessage, Chunk, Document, ScoredChunk
from pipelines.ports import ChatModel, TokenCounter
from pipelines.prompts import ANALYST_INSTRUCTIONS
from pipelines.risk_taxonomy import (
    AnnualReportCategoryId,
    ContractCategoryId,
    DocumentKind,
    RiskCategory,
    Severity,
    categories,
    groups,
)

Candidates = Callable[[RiskCategory], Sequence[ScoredChunk]]
_RANK = {"high": 0, "medium": 1, "low": 2}

RISK_RULES = (
    "Task: report the risks this {kind} contains, for the categories listed below. Report "
    "only what the text says: every finding needs a quote copied verbatim, word for word, "
    "from the document (one sentence or clause, at most about 60 words, no marker), and the "
    "page number of the marker above it. Never paraphrase a quote and never invent one. "
    "Give each finding a severity (high, medium or low) and a one-line reason. A category "
    "that the document does not address gets no finding. Reply with one JSON object only."
)
"""The risk task's rules (after the documents); the system message is the shared
`ANALYST_INSTRUCTIONS`."""


class Finding(BaseModel):
    """A risk the document contains. Only `grounded` findings may be shown as fact."""

    category: str
    severity: Severity
    reason: str
    quote: str
    page: int | None
    """Where the quote is (corrected by grounding); the model's page when ungrounded."""
    document_id: str
    grounded: bool
    char_start: int | None = None
    char_end: int | None = None


class RiskReport(BaseModel):
    """Findings of one document and how they were obtained."""

    document_id: str
    kind: DocumentKind
    mode: Literal["single", "groups", "parts"]
    findings: list[Finding]
    requests: int
    ungrounded_dropped: int = 0
    failed: list[str] = Field(default_factory=list)
    """Groups or parts whose reply never validated (their findings are missing)."""


class _OutBase(BaseModel):
    model_config = ConfigDict(extra="forbid")
    severity: Severity
    reason: str
    quote: str
    page: int


class ContractFindingOut(_OutBase):
    """What the model fills for one contract finding."""

    category: ContractCategoryId


class ContractFindingsOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    findings: list[ContractFindingOut]


class AnnualReportFindingOut(_OutBase):
    """What the model fills for one annual-report finding."""

    category: AnnualReportCategoryId


class AnnualReportFindingsOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    findings: list[AnnualReportFindingOut]


_SCHEMAS: dict[DocumentKind, type[BaseModel]] = {
    "contract": ContractFindingsOut,
    "annual_report": AnnualReportFindingsOut,
}


def task_for(asked: Sequence[RiskCategory], kind: DocumentKind) -> str:
    """The request's last part: the rules, the categories to look for (with severity
    guidance) and the reply shape."""
    lines = [RISK_RULES.format(kind=kind.replace("_", " ")),
             "Categories (category: what counts; default severity):"]
    lines += [f"- {c.id}: {c.description} Severity: {c.severity}." for c in asked]
    lines.append(
        'Reply as {"findings": [{"category": ..., "severity": "high"|"medium"|"low", '
        '"reason": ..., "quote": ..., "page": ...}]}, category exactly as listed; '
        '{"findings": []} when none applies.'
    )
    return "\n".join(lines)


def extract_risks(
    document: Document,
    chunks: Sequence[Chunk],
    *,
    kind: DocumentKind,
    llm: ChatModel,
    counter: TokenCounter,
    budget: Budget,
    candidates: Candidates | None = None,
    cache_salt: str | None = None,
    drop_ungrounded: bool = False,
    only: Collection[str] | None = None,
    page_starts: Sequence[int] | None = None,
) -> RiskReport:
    """Risk findings of `document` (its `chunks`), grounded against its text.

    Raises `PromptTooLong` when instructions and task alone exceed the budget,
    `LlmUnavailable` when no model answers; a group or part whose reply never validates
    is listed in `RiskReport.failed` and the others still count. `only` restricts the
    categories asked to these ids (ValueError for an id not in the taxonomy of `kind`).
    `page_starts` (see `SourceText`) makes the pages of grounded quotes exact.
    """
    instructions = ANALYST_INSTRUCTIONS
    everything = _asked(kind, only)
    packs = pack_document(instructions, chunks, task_for(everything, kind), counter=counter,
                          budget=budget, title=document.filename)
    jobs: list[tuple[str, PackedContext]]
    if len(packs) == 1:
        mode: Literal["single", "groups", "parts"] = "single"
        jobs = [("all", packs[0])]
    elif candidates is not None:
        mode = "groups"
        jobs = []
        for name, group in groups(kind):
            asked = [c for c in group if c in everything]
            ranked = _interleave([[s for s in candidates(c) if s.chunk.document_id == document.id]
                                  for c in asked])
            if not asked or not ranked:
                continue  # nothing in the document resembles these categories
            jobs.append((name, pack_context(
                instructions, ranked, task_for(asked, kind), counter=counter, budget=budget,
                titles={document.id: document.filename})))
    else:
        mode = "parts"
        jobs = [(f"part {p.part}/{p.parts}", p) for p in packs]
    raw: list[dict[str, object]] = []
    failed: list[str] = []
    for name, packed in jobs:
        messages = [ChatMessage.model_validate(m) for m in packed.messages]
        try:
            reply = llm.structured(messages, _SCHEMAS[kind], thinking=False,
                                   max_tokens=packed.max_output_tokens, cache_salt=cache_salt)
        except LlmOutputInvalid:
            failed.append(name)
            continue
        ids = {c.id for c in everything}
        raw.extend(f for f in reply.model_dump()["findings"] if f["category"] in ids)
    findings = ground_findings(raw, document.id, SourceText(chunks, page_starts))
    kept = [f for f in findings if f.grounded or not drop_ungrounded]
    return RiskReport(document_id=document.id, kind=kind, mode=mode, findings=kept,
                      requests=len(jobs), ungrounded_dropped=len(findings) - len(kept),
                      failed=failed)


def ground_findings(
    raw: Sequence[dict[str, object]], document_id: str, source: SourceText
) -> list[Finding]:
    """Model findings -> `Finding`s located in `source`, merged, most severe first."""
    out: list[Finding] = []
    for item in raw:
        quote = str(item["quote"]).strip()
        match = source.find(quote)
        model_page = item.get("page")
        finding = Finding(
            category=str(item["category"]),
            severity=_severity(item.get("severity")),
            reason=" ".join(str(item.get("reason", "")).split())[:300],
            quote=quote,
            page=_page(match, model_page if isinstance(model_page, int) else None),
            document_id=document_id,
            grounded=match is not None,
            char_start=match.char_start if match else None,
            char_end=match.char_end if match else None,
        )
        if not any(_same(finding, seen) for seen in out):
            out.append(finding)
        else:
            out = [_stronger(finding, s) if _same(finding, s) else s for s in out]
    return sorted(out, key=lambda f: (not f.grounded, _RANK[f.severity], f.page or 0,
                                      f.char_start or 0))


def detect_kind(chunks: Sequence[Chunk]) -> DocumentKind:
    """"annual_report" when the opening text reads like one (10-K, 年度报告, annual report,
    financial statements), else "contract" (agreement terms, 协议/合同 parties)."""
    ordered = sorted(chunks, key=lambda c: c.number)
    opening = " ".join(c.text for c in ordered[:8]).casefold()
    head = opening[:3000]
    annual = 3 * sum(term in head for term in _ANNUAL_TITLE)
    annual += sum(min(opening.count(term), 3) for term in _ANNUAL_BODY)
    contract = 3 * sum(term in head for term in _CONTRACT_TITLE)
    contract += sum(min(opening.count(term), 3) for term in _CONTRACT_BODY)
    return "annual_report" if annual > contract else "contract"


_ANNUAL_TITLE = ("annual report", "form 10-k", "年度报告", "年报", "annual results")
_ANNUAL_BODY = ("fiscal year ended", "consolidated balance sheet", "risk factors",
                "management's discussion", "shareholders", "合并资产负债表", "营业收入",
                "归属于上市公司股东", "净利润", "董事会报告", "income statement")
_CONTRACT_TITLE = ("agreement", "协议", "合同", "contract")
_CONTRACT_BODY = ("whereas", "hereby", "hereinafter", "in witness whereof", "party hereto",
                  "parties hereto", "shall", "甲方", "乙方", "本协议", "本合同")


def _asked(kind: DocumentKind, only: Collection[str] | None) -> list[RiskCategory]:
    known = categories(kind)
    if only is None:
        return list(known)
    unknown = set(only) - {c.id for c in known}
    if unknown:
        raise ValueError(f"not {kind} risk categories: {sorted(unknown)}")
    return [c for c in known if c.id in only]


def _interleave(lists: Sequence[Sequence[ScoredChunk]]) -> list[ScoredChunk]:
    """Each category's best passage in turn, then the second ones...; scores descending in
    that order so `pack_context` drops the last taken first. Repeats are kept once."""
    taken: list[Chunk] = []
    seen: set[tuple[str, int]] = set()
    for rank in range(max((len(x) for x in lists), default=0)):
        for ranked in lists:
            if rank < len(ranked):
                chunk = ranked[rank].chunk
                key = (chunk.document_id, chunk.number)
                if key not in seen:
                    seen.add(key)
                    taken.append(chunk)
    return [ScoredChunk(chunk=c, score=float(len(taken) - i)) for i, c in enumerate(taken)]


def _page(match: QuoteMatch | None, claimed: int | None) -> int | None:
    """The quote's page; the model's when grounding leaves a range that holds it."""
    if match is None:
        return claimed
    if claimed is not None and match.page <= claimed <= match.latest_page:
        return claimed
    return match.page


def _severity(value: object) -> Severity:
    text = str(value).strip().lower()
    if text == "high":
        return "high"
    return "low" if text == "low" else "medium"


def _same(a: Finding, b: Finding) -> bool:
    if a.category != b.category or a.grounded != b.grounded:
        return False
    if a.char_start is not None and b.char_start is not None:
        return a.char_start < (b.char_end or 0) and b.char_start < (a.char_end or 0)
    return _key(a.quote) == _key(b.quote)


def _stronger(a: Finding, b: Finding) -> Finding:
    return a if (_RANK[a.severity], -len(a.quote)) < (_RANK[b.severity], -len(b.quote)) else b


def _key(quote: str) -> str:
    return re.sub(r"\s+", "", normalise(quote)[0])
