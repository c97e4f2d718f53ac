"""Risk findings as reported, and the reply schemas the model fills to classify passages.

`Finding` and `RiskReport` are what `pipelines.risks.extract_risks` returns; the
`...FindingsOut` models are the structured replies asked of the model (a `category` is a
`Literal` of the taxonomy's ids, `pipelines.risk_taxonomy`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pipelines.risk_taxonomy import (
    AnnualReportCategoryId,
    ContractCategoryId,
    DocumentKind,
    Severity,
)


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


REPLY_SCHEMAS: dict[DocumentKind, type[BaseModel]] = {
    "contract": ContractFindingsOut,
    "annual_report": AnnualReportFindingsOut,
}
