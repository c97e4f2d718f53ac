"""The answer to a question: its text, whether it was found, and the passages it cites.

`NOT_FOUND` is the whole answer when the passages do not hold one (`not_found()`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from pipelines.evidence import Evidence
from pipelines.extract import Extracted

NOT_FOUND = "Not found in the documents."
"""The whole answer when the passages do not contain it."""

NotFoundCheck = Literal["absent", "model_could_not_answer"]


class AnswerCitation(BaseModel):
    """A source the answer cites: a passage that was shown to the model."""

    marker: str
    document_id: str
    page_start: int
    page_end: int
    chunk_numbers: list[int]


class Answer(BaseModel):
    """An answer whose every remaining citation marker maps to a packed passage."""

    text: str
    found: bool
    citations: list[AnswerCitation] = Field(default_factory=list)
    removed_markers: list[str] = Field(default_factory=list)
    """Citation brackets the model wrote that matched no packed passage (removed)."""
    evidence: list[Evidence] = Field(default_factory=list)
    """The passages given to the model, or the best ones retrieval found (best first)."""
    extracted: list[Extracted] = Field(default_factory=list)
    """Values read without the model (governing law, dates), each with its located quote."""
    not_found_checked: NotFoundCheck | None = None
    """For a "not found": `absent` when no passage looks relevant to the question,
    `model_could_not_answer` when the best passages do (or a value was extracted)."""

    @property
    def grounded(self) -> bool:
        """Found and backed by at least one real citation. An answer that is not grounded
        must not be shown as based on the documents."""
        return self.found and bool(self.citations)


def not_found() -> Answer:
    """The answer when the documents do not hold one."""
    return Answer(text=NOT_FOUND, found=False)
