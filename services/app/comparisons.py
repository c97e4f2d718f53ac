"""Comparison tables as jobs: documents x columns, each cell a value with its quote and page.

`submit` checks the columns and documents (every one the tenant's and ready) and queues a
comparison, or returns the active one of the same documents, columns and mode. A worker
runs it (`run`): each document's row is built on a thread pool of `fan_out` threads
(`pipelines.comparisons`: cached risk findings, then the document's own sentences, then,
with `use_model` and an LLM configured, one bounded model request for the cells still
empty), `steps_done` of `steps_total` documents written to the row as they finish. Rows are
cached in the `AnalysisCache` per (document content, columns, mode, model, which analyses
were cached), so a comparison run again over the same documents reads them back.

A backend that is down (the LLM, the store) leaves the comparison `waiting` and raises, so
Celery retries with backoff; after `max_attempts` runs it fails with the reason. Any other
error fails it at once with its code and reason.

Deleting a document does not change the comparisons that hold it: their stored table is a
snapshot of the documents as they were compared (quotes included) until the comparison is
run again; a document deleted while a comparison runs gets an empty row.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from pipelines.comparison_model import model_cells
from pipelines.comparison_models import (
    DEFAULT_COLUMNS,
    MAX_DOCUMENTS,
    Cell,
    ComparisonRecord,
    Row,
    Table,
)
from pipelines.comparisons import DocumentText, deterministic_row, resolve_column, valid_columns
from pipelines.errors import (
    BackendUnavailable,
    DocsightError,
    LlmUnavailable,
    NotFound,
)
from pipelines.models import Document
from pipelines.models import JobStatus as J
from pipelines.risk_models import Finding
from pipelines.summary_models import ContractSummary
from services.app.analysis import AnalysisService
from services.app.cache_keys import digest
from services.app.ports import ChatModel, ComparisonQueue, ComparisonStore
from services.app.row_runs import run_row

log = logging.getLogger(__name__)

ROW_FORMAT = 1
"""Part of a cached row's key: rows cached in an older form miss."""


class UnknownColumns(ValueError):
    """Columns that are neither CUAD categories nor summary fields (the API answers 422)."""

    def __init__(self, unknown: Sequence[str]) -> None:
        self.unknown = list(unknown)
        self.valid = valid_columns()
        super().__init__(
            f"unknown column(s): {', '.join(self.unknown)}; valid: {', '.join(self.valid)}"
        )


class ComparisonService:
    def __init__(
        self,
        *,
        comparisons: ComparisonStore,
        analysis: AnalysisService,
        queue: ComparisonQueue | None = None,
        fan_out: int = 4,
        max_attempts: int = 0,
    ) -> None:
        self.comparisons = comparisons
        self.analysis = analysis
        self.store = analysis.store
        self.cache = analysis.cache
        self.queue = queue
        self.fan_out = max(1, fan_out)
        self.max_attempts = max_attempts  # runs of one comparison; 0: no limit

    # --- API-facing -----------------------------------------------------------------

    def submit(
        self,
        tenant: str,
        document_ids: Sequence[str],
        columns: Sequence[str] | None = None,
        *,
        use_model: bool = True,
    ) -> ComparisonRecord:
        """A queued comparison (or the active identical one). Raises `UnknownColumns`,
        `ValueError` (no documents, too many), `NotFound`, `DocumentNotReady`."""
        ids = list(dict.fromkeys(document_ids))
        if not ids or len(ids) > MAX_DOCUMENTS:
            raise ValueError(f"give 1 to {MAX_DOCUMENTS} document ids")
        chosen = self.resolve_columns(columns)
        for document_id in ids:
            self._ready(tenant, document_id)  # NotFound across tenants
        active = self.comparisons.find_active(tenant, ids, chosen, use_model)
        if active is not None:
            return active
        now = datetime.now(UTC)
        record = self.comparisons.add(
            ComparisonRecord(
                id=str(uuid.uuid4()),
                tenant=tenant,
                document_ids=ids,
                columns=chosen,
                use_model=use_model,
                steps_done=0,
                steps_total=len(ids),
                created_at=now,
                updated_at=now,
            )
        )
        self._queue().enqueue_comparison(record.id)
        return record

    @staticmethod
    def resolve_columns(columns: Sequence[str] | None) -> list[str]:
        """The columns as stored (default: `DEFAULT_COLUMNS`); `UnknownColumns` otherwise."""
        if not columns:
            return list(DEFAULT_COLUMNS)
        resolved = [(c, resolve_column(c)) for c in columns]
        unknown = [given for given, found in resolved if found is None]
        if unknown:
            raise UnknownColumns(unknown)
        return list(dict.fromkeys(found for _, found in resolved if found is not None))

    def get(self, tenant: str, comparison_id: str) -> ComparisonRecord:
        return self.comparisons.get(tenant, comparison_id)

    def recent(self, tenant: str) -> list[ComparisonRecord]:
        """The tenant's latest 100 comparisons, newest first, without their tables."""
        return self.comparisons.list(tenant)

    def resume_unfinished(self, idle_for_s: float | None = None) -> int:
        """Re-send every comparison left queued, running or waiting (idle that long)."""
        since = None if idle_for_s is None else datetime.now(UTC) - timedelta(seconds=idle_for_s)
        pending = self.comparisons.unfinished(since)
        for record in pending:
            self._queue().enqueue_comparison(record.id)
        return len(pending)

    # --- worker step ----------------------------------------------------------------

    def run(self, comparison_id: str) -> None:
        """Build the table. Raises `BackendUnavailable` (left `waiting`) for the worker to
        retry, unless the row has used up `max_attempts` (then it fails)."""
        record = self.comparisons.find(comparison_id)
        if record is None:
            log.info("comparison %s skipped: not active", comparison_id)
            return

        def compute() -> dict[str, Any]:
            table = self.build(record)
            return {
                "result": table.model_dump_json(),
                "steps_done": len(record.document_ids),
                "step": "done",
                "error_code": None,
                "reason": None,
            }

        if not run_row(
            self.comparisons.transition,
            comparison_id,
            record.attempts,
            self.max_attempts,
            compute,
            lambda exc: self._fail(record, exc),
        ):
            log.info("comparison %s skipped: not active", comparison_id)

    def build(self, record: ComparisonRecord) -> Table:
        """Every row, `fan_out` documents at a time, progress written as each finishes."""
        model = self._model() if record.use_model else None
        total = len(record.document_ids)
        done = 0

        def one(document_id: str) -> Row:
            return self.row(record.tenant, document_id, record.columns, model)

        rows: list[Row] = []
        with ThreadPoolExecutor(self.fan_out, thread_name_prefix="compare") as pool:
            for row in pool.map(one, record.document_ids):
                rows.append(row)
                done += 1
                self._progress(record.id, done, total, f"{row.filename} ({done}/{total})")
        return Table(columns=list(record.columns), rows=rows)

    def row(
        self, tenant: str, document_id: str, columns: Sequence[str], model: ChatModel | None
    ) -> Row:
        """One document's row, from the cache when built before under the same key."""
        try:
            document = self._ready(tenant, document_id)
        except NotFound:  # deleted since it was submitted
            return Row(document_id=document_id, filename="", cells={c: Cell() for c in columns})
        findings, summary = self._analyses(tenant, document_id)
        key = digest(
            "comparison-row",
            ROW_FORMAT,
            tenant,
            document.id,
            document.sha256,
            document.chunks_total,
            list(columns),
            model.name if model else None,
            findings is not None,
            summary is not None,
        )
        hit = self.cache.get(key)
        self.analysis.metrics.record("comparisons", hit=hit is not None, tenant=tenant)
        if hit is not None:
            return Row.model_validate_json(hit)
        row, complete = self._compute(tenant, document, columns, model, findings or [], summary)
        if not complete:  # the model's part failed: not kept, tried again next time
            return row
        self.cache.put(
            key, row.model_dump_json(), kind="comparisons", tenant=tenant, document_id=document.id
        )
        if document.id not in self.store.existing_ids([document.id]):
            self.cache.forget_document(document.id)  # deleted meanwhile: keep nothing of it
        return row

    def _compute(
        self,
        tenant: str,
        document: Document,
        columns: Sequence[str],
        model: ChatModel | None,
        findings: Sequence[Finding],
        summary: ContractSummary | None,
    ) -> tuple[Row, bool]:
        """The row, and whether it is complete (False: the model's reply was unusable)."""
        chunks = self.store.load_chunks(document.id)
        doc = DocumentText(chunks, self.store.load_page_starts(document.id))
        row = deterministic_row(
            document.id, document.filename, columns, doc, findings=findings, summary=summary
        )
        empty = [c for c in columns if row.cells[c].value is None]
        if model is None or not empty or not chunks:
            return row, True
        try:
            found = model_cells(
                empty,
                doc,
                llm=model,
                counter=self.analysis.counter,
                budget=self.analysis.llm.budget,
                title=document.filename,
                cache_salt=tenant,
            )
        except BackendUnavailable:
            raise  # the comparison waits and is retried
        except DocsightError as exc:  # an unusable reply: this row keeps what was found
            log.warning("comparison row of %s: model step failed: %s", document.id, exc)
            return row, False
        return row.model_copy(update={"cells": row.cells | found}), True

    def _analyses(
        self, tenant: str, document_id: str
    ) -> tuple[list[Finding] | None, ContractSummary | None]:
        """The document's cached risk findings and contract summary (None: not cached, or
        no LLM configured, so none can be)."""
        try:
            risks = self.analysis.cached_risks(tenant, document_id)
            summary = self.analysis.cached_summary(tenant, document_id)
        except LlmUnavailable:
            return None, None
        findings = risks.report.findings if risks is not None else None
        contract = summary.summary if summary is not None else None
        return findings, contract if isinstance(contract, ContractSummary) else None

    def _ready(self, tenant: str, document_id: str) -> Document:
        document = self.store.get_document(tenant, document_id)  # NotFound across tenants
        return document.require_ready("a comparison needs ready documents")

    def _model(self) -> ChatModel | None:
        """The configured model, or None (the table is then built without one)."""
        try:
            return self.analysis.llm.require()
        except LlmUnavailable:
            return None

    def _progress(self, comparison_id: str, done: int, total: int, step: str) -> None:
        try:
            self.comparisons.progress(comparison_id, done, total, step)
        except BackendUnavailable as exc:
            log.warning("comparison %s: progress not recorded: %s", comparison_id, exc)

    def _fail(self, record: ComparisonRecord, exc: Exception) -> None:
        code = getattr(exc, "code", "internal")
        log.warning("comparison %s failed (%s): %s", record.id, code, exc)
        self.comparisons.transition(
            record.id, [J.RUNNING], J.FAILED, error_code=code, reason=str(exc) or code
        )

    def _queue(self) -> ComparisonQueue:
        if self.queue is None:
            raise RuntimeError("no task queue attached")
        return self.queue
