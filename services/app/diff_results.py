"""What the version diff returns (`services.app.diffs.DiffService`): clause changes between
two documents with their pages, the risk categories each touches and how the cached risk
findings inside them changed."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from pipelines.risk_models import Finding

ChangeKind = Literal["added", "removed", "changed", "unchanged"]
FindingsChange = Literal["added", "removed", "changed", "same", "not_analysed"]


class ClauseOut(BaseModel):
    """One clause of a document: `text` is the document's text at `char_start:char_end`."""

    number: str | None = Field(description='"1.2", "IV", "第三条"; null for a plain paragraph')
    heading: str = Field(description='the heading words, "" when none')
    text: str
    page: int = Field(description="the page the clause starts on (1-based)")
    page_end: int = Field(description="the page it ends on")
    char_start: int
    char_end: int


class FindingsDiff(BaseModel):
    """Cached risk findings inside the old clause (`before`) and the new one (`after`)."""

    before: list[Finding] = Field(default_factory=list)
    after: list[Finding] = Field(default_factory=list)
    change: FindingsChange = Field(
        description="added, removed, changed or same; not_analysed when either document "
        "has no cached risk report (run its risk analysis first)"
    )


class ClauseChangeOut(BaseModel):
    kind: ChangeKind
    similarity: float = Field(description="0..1 between the texts, numbers aside")
    renumbered: bool = Field(description="the clause's number changed")
    old: ClauseOut | None = Field(description="in the earlier document (`against`)")
    new: ClauseOut | None = Field(description="in this document")
    categories: list[str] = Field(
        description="risk categories the clause touches: its wording (either text) and "
        "the cached findings inside it"
    )
    findings: FindingsDiff


class DiffCounts(BaseModel):
    added: int = 0
    removed: int = 0
    changed: int = 0
    unchanged: int = 0
    renumbered: int = 0


class DiffOut(BaseModel):
    """`document_id` compared with `against` (its previous version unless named)."""

    document_id: str
    against: str
    counts: DiffCounts
    changes: list[ClauseChangeOut] = Field(
        description="every clause of both documents once, in this document's order; a "
        "removed clause after its old predecessor's partner"
    )


class AlignedClause(BaseModel):
    """A change as cached: the clauses and the categories their wording names."""

    kind: ChangeKind
    similarity: float
    renumbered: bool
    old: ClauseOut | None
    new: ClauseOut | None
    worded: list[str]
