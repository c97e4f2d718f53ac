"""What a summary is: the model's reply schemas and the summaries the service keeps.

The model writes statements with quotes (`StatementReply`, `FigureReply`); the service
keeps them with the evidence it located (`SourcedText`, `KeyFigure`): see
`pipelines.summary_evidence`. Summaries stored before evidence existed still read (no
evidence, unverified).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SummaryKind = Literal["contract", "annual_report"]


TEXT_CHARS = 400
"""Bound on a summary text in the reply schema (not checked when reading stored ones):
constrained decoding stops a small model that would ramble past its output budget (seen
with the bundled 0.5B model: a reply cut at 1,024 tokens, then its repair too)."""


QUOTE_CHARS = 300
MAX_EVIDENCE = 3
"""Quotes asked for, and located quotes kept, per statement."""
MAX_FIGURES, MAX_RISKS = 10, 6
"""Key figures and major risks of an annual report: asked for, and kept."""


class StatementReply(BaseModel):
    """A statement as the model writes it: the text and the document's words behind it."""

    model_config = ConfigDict(json_schema_extra={"required": ["text", "quotes"]})

    text: str = Field(
        description="one or two sentences; empty when the document does not say",
        json_schema_extra={"maxLength": TEXT_CHARS},
    )
    quotes: list[str] = Field(
        default_factory=list,
        description="the document's own words that show the statement, copied exactly",
        json_schema_extra={"maxItems": MAX_EVIDENCE, "items": {"maxLength": QUOTE_CHARS}},
    )


class ContractReply(BaseModel):
    """A contract summary as the model writes it."""

    parties: StatementReply
    subject: StatementReply
    term_and_renewal: StatementReply
    payment: StatementReply
    obligations: StatementReply
    liability_and_indemnity: StatementReply
    termination: StatementReply
    governing_law: StatementReply


class FigureReply(BaseModel):
    """One reported figure as the model writes it."""

    model_config = ConfigDict(json_schema_extra={"required": ["name", "value", "period", "quote"]})

    name: str = Field(description="what is measured, e.g. revenue, net profit, total assets")
    value: str = Field(description="the value with its unit and currency, as written")
    period: str = Field(description="the year or period it refers to")
    quote: str = Field(
        default="",
        description="the sentence or table row giving the value, copied exactly",
        json_schema_extra={"maxLength": QUOTE_CHARS},
    )


class ReportReply(BaseModel):
    """An annual report summary as the model writes it."""

    business: StatementReply
    key_figures: list[FigureReply] = Field(json_schema_extra={"maxItems": MAX_FIGURES})
    outlook: StatementReply
    major_risks: list[StatementReply] = Field(json_schema_extra={"maxItems": MAX_RISKS})


Reply = ContractReply | ReportReply


class Evidence(BaseModel):
    """A located quote: the document's own text at the place, its pages and offsets."""

    quote: str
    page: int
    page_end: int
    char_start: int
    char_end: int


class SourcedText(BaseModel):
    """A statement with its evidence: quotes located in the document (empty text: the
    document is silent). Unverified when no quote was found; pages are the evidence's."""

    text: str
    verified: bool = False
    evidence: list[Evidence] = Field(default_factory=list)
    pages: list[int] = Field(default_factory=list)


class ContractSummary(BaseModel):
    """What a contract says on the points a reviewer reads first."""

    parties: SourcedText
    subject: SourcedText
    term_and_renewal: SourcedText
    payment: SourcedText
    obligations: SourcedText
    liability_and_indemnity: SourcedText
    termination: SourcedText
    governing_law: SourcedText


class KeyFigure(BaseModel):
    """One reported figure; verified when its quote is located and shows the value."""

    name: str
    value: str
    period: str
    page: int | None = None
    verified: bool = False
    evidence: list[Evidence] = Field(default_factory=list)


class ReportSummary(BaseModel):
    """The essentials of an annual report."""

    business: SourcedText
    key_figures: list[KeyFigure]
    outlook: SourcedText
    major_risks: list[SourcedText]


Summary = ContractSummary | ReportSummary


def empty_summary(kind: SummaryKind) -> Summary:
    """A summary saying nothing (for a document without text)."""
    blank = SourcedText(text="", pages=[])
    if kind == "contract":
        return ContractSummary.model_validate(
            {name: blank for name in ContractSummary.model_fields}
        )
    return ReportSummary(business=blank, key_figures=[], outlook=blank, major_risks=[])
