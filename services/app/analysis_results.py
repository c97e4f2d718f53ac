"""What the analysis use cases return: an answer (or its stream), a summary, a risk report,
each with the model that made it and whether it came from the cache."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from pydantic import BaseModel

from pipelines.answer_models import NOT_FOUND, Answer
from pipelines.risks import RiskReport
from pipelines.summary_models import ContractSummary, ReportSummary


class AskResult(BaseModel):
    answer: Answer
    model: str
    cached: bool


class SummaryResult(BaseModel):
    document_id: str
    kind: Literal["contract", "annual_report"]
    summary: ContractSummary | ReportSummary
    model: str
    cached: bool


class RisksResult(BaseModel):
    report: RiskReport
    model: str
    cached: bool

    def shown(self, include_unverified: bool = False) -> RisksResult:
        """As shown to a user: unverified findings only when asked for."""
        return self.model_copy(update={"report": self.report.shown(include_unverified)})


class CachedStream:
    """Text deltas of an answer; `result()` once consumed. Caches the answer at the end."""

    def __init__(self, deltas: Iterator[str], finish: Iterator[AskResult]) -> None:
        self._deltas = deltas
        self._finish = finish
        self._result: AskResult | None = None

    def __iter__(self) -> Iterator[str]:
        held = False  # a bare "not found" is held: its check may rewrite it
        for delta in self._deltas:
            if not held and delta == NOT_FOUND:
                held = True
                continue
            yield delta
        self._result = next(self._finish)
        if held:
            yield self._result.answer.text

    def result(self) -> AskResult:
        if self._result is None:
            for _ in self:
                pass
        assert self._result is not None
        return self._result
