"""Risk findings of a contract or an annual report: retrieved, classified, quoted from the text.

`extract_risks` never sends the whole document. For each category of the taxonomy
(`pipelines.risk_taxonomy`) retrieval (`candidates`, backed by
`pipelines.passages.search_passages` with the category's English and Chinese query) ranks
the document's passages; `pipelines.risk_candidates` keeps the best few (a time budget)
and asks the model, in small batched requests, which passage holds which of the
categories it was retrieved for, with a severity, a reason and the sentence that shows it.
Thinking is off; the reply schema's `category` is a `Literal` of the category ids.

The quote of a finding is the document's own text, never the model's words: the sentence
the model pointed at is located in the document (`pipelines.grounding`: normalised, so
case, spacing and punctuation do not decide) and the located text, its offsets and page
are kept (`grounded=True`). When the model's sentence is not found, the finding keeps the
passage's sentence most like it, with `grounded=False`: never shown as fact, hidden unless
asked for (`RiskReport.shown`). Findings of one category over the same span are merged.

A request that times out or whose reply never validates is split in two and each half
asked again (down to one passage); a passage whose reply never validates is listed in
`RiskReport.failed`, one that still times out raises `LlmTimeout` (the job waits and
resumes with the replies it has). `progress` is told each request.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pipelines.context import Budget
from pipelines.errors import LlmOutputInvalid, LlmTimeout
from pipelines.grounding import SourceText, normalise
from pipelines.models import Chunk, Document, ScoredChunk
from pipelines.ports import ChatModel, Progress
from pipelines.risk_candidates import (
    Candidate,
    Selection,
    batch_messages,
    batches,
    output_tokens,
    select_candidates,
    wording,
)
from pipelines.risk_taxonomy import (
    AnnualReportCategoryId,
    ContractCategoryId,
    DocumentKind,
    RiskCategory,
    Severity,
    categories,
)

Candidates = Callable[[RiskCategory], Sequence[ScoredChunk]]
_RANK = {"high": 0, "medium": 1, "low": 2}
_SENTENCE_END = re.compile(r"(?<=[.;:!?。；！？])\s+|\n\s*\n|(?<=[。；！？])")


class Finding(BaseModel):
    """A risk the document contains. Only `grounded` findings may be shown as fact."""

    category: str
    severity: Severity
    reason: str
    quote: str
    """The document's own text (located), never the model's rewrite."""
    page: int | None
    document_id: str
    grounded: bool
    """The sentence the model pointed at was found in the document; False: the quote is
    the passage's closest sentence and the finding is unverified."""
    char_start: int | None = None
    char_end: int | None = None
    method: Literal["model", "wording"] = "model"
    """"model": the model classified the passage; "wording": the passage holds the
    category's own clause wording (listed in `reason`), no model involved."""


class RiskReport(BaseModel):
    """Findings of one document and how they were obtained."""

    document_id: str
    kind: DocumentKind
    mode: str = "candidates"
    """How candidates were found ("single", "groups", "parts": reports made before
    retrieval chose them, still readable from the cache and job rows)."""
    findings: list[Finding]
    """Every finding, unverified ones included (`shown` filters them)."""
    requests: int
    passages: int = 0
    """Passages the model classified."""
    failed: list[str] = Field(default_factory=list)
    """Batches whose reply never came or never validated, even split to one passage."""
    unverified_hidden: int = 0
    """Unverified findings left out of `findings` (`shown`)."""

    @property
    def unverified(self) -> int:
        return sum(not f.grounded for f in self.findings)

    def shown(self, include_unverified: bool = False) -> RiskReport:
        """The report as shown: grounded findings only, unless `include_unverified`."""
        if include_unverified:
            return self
        kept = [f for f in self.findings if f.grounded]
        return self.model_copy(
            update={
                "findings": kept,
                "unverified_hidden": self.unverified_hidden + len(self.findings) - len(kept),
            }
        )


class _OutBase(BaseModel):
    model_config = ConfigDict(extra="forbid")
    passage: int
    severity: Severity
    reason: str
    quote: str


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


def extract_risks(
    document: Document,
    chunks: Sequence[Chunk],
    *,
    kind: DocumentKind,
    llm: ChatModel,
    budget: Budget,
    candidates: Candidates,
    cache_salt: str | None = None,
    only: Collection[str] | None = None,
    page_starts: Sequence[int] | None = None,
    selection: Selection = Selection(),  # noqa: B008  (frozen)
    progress: Progress | None = None,
) -> RiskReport:
    """Risk findings of `document` (its `chunks`), every quote located in its text.

    Raises `LlmUnavailable` when no model answers (a job waits and retries); a batch that
    times out or never validates is split, and what still fails is listed in
    `RiskReport.failed`. `only` restricts the categories asked to these ids (ValueError
    for an id not in the taxonomy of `kind`). `page_starts` (see `SourceText`) makes
    pages exact.
    """
    asked = _asked(kind, only)
    ranked = [(c, [s for s in candidates(c) if s.chunk.document_id == document.id]) for c in asked]
    chosen = select_candidates(ranked, selection)
    queue = batches(chosen, selection.batch_size)
    source = SourceText(chunks, page_starts)
    findings = _worded(chosen, selection.least_wording, source)
    failed: list[str] = []
    done = requests = 0
    while queue:
        batch = queue.pop(0)
        if progress is not None:
            progress(
                done,
                done + len(queue) + 1,
                f"classifying {len(batch)} passage(s), page {batch[0].chunk.page_start}",
            )
        requests += 1
        try:
            reply = llm.structured(
                batch_messages(batch, kind, document.filename),
                _SCHEMAS[kind],
                thinking=False,
                max_tokens=output_tokens(batch, budget.max_output_tokens),
                cache_salt=cache_salt,
            )
        except (LlmTimeout, LlmOutputInvalid) as exc:
            if len(batch) > 1:
                half = len(batch) // 2
                queue[:0] = [batch[:half], batch[half:]]
                continue
            if isinstance(exc, LlmTimeout):
                raise  # one passage still too slow: the job waits and resumes (step cache)
            failed.append(f"page {batch[0].chunk.page_start}: {type(exc).__name__}")
            done += 1
            continue
        done += 1
        findings.extend(_located(reply.model_dump()["findings"], batch, source))
    if progress is not None:
        progress(done, done, "done")
    return RiskReport(
        document_id=document.id,
        kind=kind,
        findings=_merged(findings),
        requests=requests,
        passages=len(chosen),
        failed=failed,
    )


def _located(
    raw: Sequence[dict[str, object]], batch: Sequence[Candidate], source: SourceText
) -> list[Finding]:
    """The model's items -> findings quoting the document's own text."""
    out: list[Finding] = []
    for item in raw:
        number = item.get("passage")
        if not isinstance(number, int) or not 1 <= number <= len(batch):
            continue
        candidate = batch[number - 1]
        if str(item["category"]) not in {c.id for c in candidate.categories}:
            continue  # a category it was not retrieved for: not this passage's question
        pointer = " ".join(str(item.get("quote", "")).split())
        span = (candidate.chunk.char_start, candidate.chunk.char_end)
        match = source.find(pointer, within=span) if pointer else None  # what it was shown
        if match is None:
            start, end = _closest_sentence(candidate.chunk, pointer)
            quote, page, grounded = (
                candidate.chunk.text[
                    start - candidate.chunk.char_start : end - candidate.chunk.char_start
                ],
                source.page_of(start),
                False,
            )
        else:
            start, end = match.char_start, match.char_end
            quote, page, grounded = source.text_at(start, end), match.page, True
        out.append(
            Finding(
                category=str(item["category"]),
                severity=_severity(item.get("severity")),
                reason=" ".join(str(item.get("reason", "")).split())[:300],
                quote=" ".join(quote.split()),
                page=page,
                document_id=candidate.chunk.document_id,
                grounded=grounded,
                char_start=start,
                char_end=end,
            )
        )
    return out


def _worded(chosen: Sequence[Candidate], least: int, source: SourceText) -> list[Finding]:
    """Model-free findings: passages holding at least `least` phrases of a category they
    were retrieved for; the quote is the passage's sentence holding the most of them."""
    out: list[Finding] = []
    for candidate in chosen if least > 0 else ():
        for category in candidate.categories:
            words = wording(candidate.chunk.text, category)
            if len(words) < least:
                continue
            start, end = _closest_sentence(candidate.chunk, " ".join(words))
            offset = candidate.chunk.char_start
            out.append(
                Finding(
                    category=category.id,
                    severity="medium",
                    reason="the clause's own wording: " + ", ".join(f"'{w}'" for w in words[:4]),
                    quote=" ".join(candidate.chunk.text[start - offset : end - offset].split()),
                    page=source.page_of(start),
                    document_id=candidate.chunk.document_id,
                    grounded=True,
                    char_start=start,
                    char_end=end,
                    method="wording",
                )
            )
    return out


def _closest_sentence(chunk: Chunk, pointer: str) -> tuple[int, int]:
    """Document offsets of the sentence of `chunk` sharing most words with `pointer`."""
    words = set(_words(pointer))
    best = (-1.0, chunk.char_start, chunk.char_end)
    at = 0
    for piece in _SENTENCE_END.split(chunk.text):
        found = chunk.text.find(piece, at)
        if not piece.strip() or found < 0:
            continue
        at = found + len(piece)
        mine = set(_words(piece))
        score = len(words & mine) / (len(mine) ** 0.5 or 1.0)
        if score > best[0]:
            best = (score, chunk.char_start + found, chunk.char_start + at)
    return best[1], best[2]


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.casefold())


def _merged(findings: Sequence[Finding]) -> list[Finding]:
    """Findings of one category over the same span merged, most severe first."""
    out: list[Finding] = []
    for finding in findings:
        if any(_same(finding, seen) for seen in out):
            out = [_stronger(finding, s) if _same(finding, s) else s for s in out]
        else:
            out.append(finding)
    return sorted(
        out, key=lambda f: (not f.grounded, _RANK[f.severity], f.page or 0, f.char_start or 0)
    )


def detect_kind(chunks: Sequence[Chunk]) -> DocumentKind:
    """ "annual_report" when the opening text reads like one (10-K, 年度报告, annual report,
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
_ANNUAL_BODY = (
    "fiscal year ended",
    "consolidated balance sheet",
    "risk factors",
    "management's discussion",
    "shareholders",
    "合并资产负债表",
    "营业收入",
    "归属于上市公司股东",
    "净利润",
    "董事会报告",
    "income statement",
)
_CONTRACT_TITLE = ("agreement", "协议", "合同", "contract")
_CONTRACT_BODY = (
    "whereas",
    "hereby",
    "hereinafter",
    "in witness whereof",
    "party hereto",
    "parties hereto",
    "shall",
    "甲方",
    "乙方",
    "本协议",
    "本合同",
)


def _asked(kind: DocumentKind, only: Collection[str] | None) -> list[RiskCategory]:
    known = categories(kind)
    if only is None:
        return list(known)
    unknown = set(only) - {c.id for c in known}
    if unknown:
        raise ValueError(f"not {kind} risk categories: {sorted(unknown)}")
    return [c for c in known if c.id in only]


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
    """The more severe; on a tie the model's (it graded the clause), then the longer."""

    def rank(f: Finding) -> tuple[int, bool, int]:
        return _RANK[f.severity], f.method != "model", -len(f.quote)

    return a if rank(a) < rank(b) else b


def _key(quote: str) -> str:
    return re.sub(r"\s+", "", normalise(quote)[0])
