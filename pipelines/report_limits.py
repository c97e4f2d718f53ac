"""What a daily report asks analyses for: summaries up to a page count, risks per kind, a
number of documents (`AnalysisLimits`); what is left out is listed as not analysed (limit).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pipelines.models import Document, DocumentStatus, JobKind
from pipelines.risk_taxonomy import DocumentKind

RisksFor = Literal["contracts", "all", "none"]


@dataclass(frozen=True)
class AnalysisLimits:
    """What a report asks analyses for: summaries of documents of at most
    `summary_max_pages` pages (0: any), risks of `risks_for` (contracts, all, none), and
    both for at most `max_documents` documents of a day (0: any; the shortest first)."""

    summary_max_pages: int = 0
    risks_for: RisksFor = "all"
    max_documents: int = 0


def analyses_wanted(
    kind: DocumentKind, pages: int | None, limits: AnalysisLimits
) -> dict[JobKind, str | None]:
    """For each analysis kind, None when a report asks for it, else why not (the limit)."""
    summary: str | None = None
    if limits.summary_max_pages and (pages or 0) > limits.summary_max_pages:
        summary = (
            f"not analysed (limit): {pages} pages, summaries only up to {limits.summary_max_pages}"
        )
    risks: str | None = None
    if limits.risks_for == "none":
        risks = "not analysed (limit): risks are not part of reports"
    elif limits.risks_for == "contracts" and kind != "contract":
        risks = "not analysed (limit): risks of contracts only"
    return {"summary": summary, "risks": risks}


def over_document_limit(documents: Sequence[Document], limits: AnalysisLimits) -> set[str]:
    """Ids of the ready documents beyond `max_documents` (the shortest are analysed)."""
    ready = [d for d in documents if d.status is DocumentStatus.READY]
    if not limits.max_documents or len(ready) <= limits.max_documents:
        return set()
    ordered = sorted(ready, key=lambda d: (d.pages_total or 0, d.filename, d.id))
    return {d.id for d in ordered[limits.max_documents :]}
