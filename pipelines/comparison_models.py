"""What a comparison is: its cells, rows and table, the columns it may have, and its row
in the store (`ComparisonRecord`: a job over many documents, `pipelines.models.JobStatus`)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from pipelines.models import JobStatus
from pipelines.summary_models import ContractSummary

Method = Literal["pattern", "model", "finding"]

DEFAULT_COLUMNS: tuple[str, ...] = (
    "Governing Law",
    "Agreement Date",
    "Effective Date",
    "Expiration Date",
    "Renewal Term",
    "Notice Period To Terminate Renewal",
    "Cap On Liability",
    "Change Of Control",
    "Non-Compete",
    "Termination For Convenience",
)
SUMMARY_FIELDS: tuple[str, ...] = tuple(ContractSummary.model_fields)
"""Summary field names accepted as columns (read from a cached summary when there is one)."""
MAX_DOCUMENTS = 200


class Cell(BaseModel):
    """One column's value in one document (`value` None: not found)."""

    value: str | None = None
    kind: str | None = None
    """`pipelines.contract_values.Normalised.kind`, "text" for a value read as written."""
    quote: str | None = None
    """The document's own text at `char_start:char_end` when verified; the model's words
    (not found in the document) when not."""
    page: int | None = None
    page_end: int | None = None
    char_start: int | None = None
    char_end: int | None = None
    verified: bool = False
    method: Method | None = None
    rule: str | None = None


class Row(BaseModel):
    document_id: str
    filename: str
    cells: dict[str, Cell] = Field(default_factory=dict)


class Table(BaseModel):
    columns: list[str]
    rows: list[Row]


class ComparisonRecord(BaseModel):
    """A comparison's row: the request, where its run stands, and its table once done."""

    id: str
    tenant: str
    status: JobStatus = JobStatus.QUEUED
    document_ids: list[str]
    columns: list[str]
    use_model: bool = True
    attempts: int = 0
    error_code: str | None = None
    reason: str | None = None
    result: str | None = None
    """The table's JSON once done (kept when a document of it is deleted: a snapshot)."""
    steps_done: int | None = None
    steps_total: int | None = None
    step: str | None = None
    created_at: datetime
    updated_at: datetime

    def table(self) -> Table | None:
        return None if self.result is None else Table.model_validate_json(self.result)
