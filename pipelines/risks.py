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

The report and reply models are in `pipelines.risk_models`; locating, wording findings and
merging in `pipelines.risk_findings`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from pipelines.context import Budget
from pipelines.errors import LlmOutputInvalid, LlmTimeout
from pipelines.grounding import SourceText
from pipelines.models import Chunk, Document, ScoredChunk
from pipelines.ports import ChatModel, Progress
from pipelines.risk_candidates import (
    Selection,
    batch_messages,
    batches,
    output_tokens,
    select_candidates,
)
from pipelines.risk_findings import located_findings, merged_findings, worded_findings
from pipelines.risk_models import REPLY_SCHEMAS, RiskReport
from pipelines.risk_taxonomy import DocumentKind, RiskCategory, categories

__all__ = ["Candidates", "RiskReport", "detect_kind", "extract_risks"]

Candidates = Callable[[RiskCategory], Sequence[ScoredChunk]]


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
    findings = worded_findings(chosen, selection.least_wording, source)
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
                REPLY_SCHEMAS[kind],
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
        findings.extend(located_findings(reply.model_dump()["findings"], batch, source))
    if progress is not None:
        progress(done, done, "done")
    return RiskReport(
        document_id=document.id,
        kind=kind,
        findings=merged_findings(findings),
        requests=requests,
        passages=len(chosen),
        failed=failed,
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
