"""AnalysisService: summaries and risk reports of a tenant's ready documents, and (from
`QuestionService`, `services.app.questions`) questions over them.

Thin orchestration (no HTTP): loads the document's chunks, calls `pipelines.summaries` /
`risks` with the LLM, and caches the results in an `AnalysisCache` (the store's database or
Redis; hits and misses in `CacheMetrics`) by (tenant, document, its sha256 and chunk count,
model) (`services.app.cache_keys`); `refresh=True` recomputes and replaces them.

A result is put first and its documents checked after: one deleted meanwhile (delete removes
its row before its cache entries) has what was just put forgotten again, so a task still
running on a deleted document leaves nothing behind.
"""

from __future__ import annotations

from pipelines.errors import NotFound
from pipelines.models import Document, ScoredChunk
from pipelines.rerank import LexicalReranker
from pipelines.risk_candidates import PER_CATEGORY, Selection
from pipelines.risk_taxonomy import RiskCategory
from pipelines.risks import detect_kind, extract_risks
from pipelines.summaries import summarize
from services.app.analysis_results import AskResult, CachedStream, RisksResult, SummaryResult
from services.app.cache_keys import RISKS_FORMAT, SUMMARY_FORMAT, document_key, normalise_question
from services.app.ports import ChatModel, Progress
from services.app.questions import QuestionService
from services.app.step_cache import StepCachedModel

__all__ = [
    "AnalysisService",
    "AskResult",
    "CachedStream",
    "RisksResult",
    "SummaryResult",
    "normalise_question",
]


class AnalysisService(QuestionService):
    """Questions (`QuestionService`), summaries and risk reports of one deployment, with
    their cache."""

    def summary(self, tenant: str, document_id: str, *, refresh: bool = False) -> SummaryResult:
        """The document's summary (contract or annual report, detected), cached per model."""
        hit = None if refresh else self.cached_summary(tenant, document_id)
        if refresh:
            self.metrics.record("summaries", hit=False, tenant=tenant)
        return hit or self.compute_summary(tenant, document_id, steps_scope=None if refresh else "")

    def risks(self, tenant: str, document_id: str, *, refresh: bool = False) -> RisksResult:
        """The document's risk findings (grounded quotes first), cached per model."""
        hit = None if refresh else self.cached_risks(tenant, document_id)
        if refresh:
            self.metrics.record("risks", hit=False, tenant=tenant)
        return hit or self.compute_risks(tenant, document_id, steps_scope=None if refresh else "")

    def cached_summary(self, tenant: str, document_id: str) -> SummaryResult | None:
        """The cached summary of the ready document for the current model, or None."""
        key = self._document_key(f"summary-{SUMMARY_FORMAT}", tenant, document_id)
        hit = self._lookup("summaries", key, tenant)
        if hit is None:
            return None
        return SummaryResult.model_validate_json(hit).model_copy(update={"cached": True})

    def cached_risks(self, tenant: str, document_id: str) -> RisksResult | None:
        """The cached risk report of the ready document for the current model, or None."""
        hit = self._lookup(
            "risks", self._document_key(f"risks-{RISKS_FORMAT}", tenant, document_id), tenant
        )
        if hit is None:
            return None
        return RisksResult.model_validate_json(hit).model_copy(update={"cached": True})

    def compute_summary(
        self,
        tenant: str,
        document_id: str,
        *,
        progress: Progress | None = None,
        steps_scope: str | None = "",
    ) -> SummaryResult:
        """Summarise the document now (no cache lookup) and cache the result. Model replies
        of steps done before under `steps_scope` are reused (`services.app.step_cache`; None:
        none reused or kept)."""
        model = self.llm.require()
        document = self._ready(tenant, document_id)
        try:
            chunks = self.store.load_chunks(document.id)
            kind = detect_kind(chunks)
            steps = self._steps(model, tenant, document.id, steps_scope)
            summary = summarize(
                document,
                chunks,
                kind=kind,
                llm=steps,
                counter=self.counter,
                budget=self.llm.budget,
                cache_salt=tenant,
                progress=progress,
                page_starts=self.store.load_page_starts(document.id),
            )
            result = SummaryResult(
                document_id=document.id, kind=kind, summary=summary, model=model.name, cached=False
            )
            self.cache.put(
                self._document_key(f"summary-{SUMMARY_FORMAT}", tenant, document_id),
                result.model_dump_json(),
                kind="summaries",
                tenant=tenant,
                document_id=document.id,
            )
        finally:
            self._forget_if_deleted(document.id)
        return result

    def compute_risks(
        self,
        tenant: str,
        document_id: str,
        *,
        progress: Progress | None = None,
        steps_scope: str | None = "",
    ) -> RisksResult:
        """Extract the document's risks now (no cache lookup) and cache the result. Model
        replies of steps done before under `steps_scope` are reused (None: none)."""
        model = self.llm.require()
        document = self._ready(tenant, document_id)
        try:
            return self._compute_risks(model, tenant, document, progress, steps_scope)
        finally:
            self._forget_if_deleted(document.id)

    def _compute_risks(
        self,
        model: ChatModel,
        tenant: str,
        document: Document,
        progress: Progress | None,
        steps_scope: str | None,
    ) -> RisksResult:
        chunks = self.store.load_chunks(document.id)
        steps = self._steps(model, tenant, document.id, steps_scope)

        def candidates(category: RiskCategory) -> list[ScoredChunk]:
            return self._search(tenant, category.query, [document.id], limit=PER_CATEGORY)

        # MIN_SCORE is on the lexical reranker's scale; another reranker keeps every one
        selection = (
            Selection()
            if isinstance(self.reranker, LexicalReranker)
            else Selection(min_score=float("-inf"))
        )
        report = extract_risks(
            document,
            chunks,
            kind=detect_kind(chunks),
            llm=steps,
            budget=self.llm.budget,
            selection=selection,
            candidates=candidates,
            cache_salt=tenant,
            page_starts=self.store.load_page_starts(document.id),
            progress=progress,
        )
        result = RisksResult(report=report, model=model.name, cached=False)
        self.cache.put(
            self._document_key(f"risks-{RISKS_FORMAT}", tenant, document.id),
            result.model_dump_json(),
            kind="risks",
            tenant=tenant,
            document_id=document.id,
        )
        return result

    def _steps(
        self, model: ChatModel, tenant: str, document_id: str, scope: str | None
    ) -> ChatModel:
        if scope is None:
            return model
        return StepCachedModel(
            model, self.cache, tenant=tenant, document_id=document_id, scope=scope
        )

    def forget_document(self, document_id: str) -> None:
        """Drop the cached analyses of a deleted document and the answers citing it."""
        self.cache.forget_document(document_id)

    def _forget_if_deleted(self, document_id: str) -> None:
        """After a computation on the document: if it was deleted meanwhile, what the
        computation put (its result, its steps) is forgotten, and `NotFound` raised."""
        if document_id not in self.store.existing_ids([document_id]):
            self.cache.forget_document(document_id)
            raise NotFound(f"no document {document_id}: deleted while it was analysed")

    def _document_key(self, kind: str, tenant: str, document_id: str) -> str:
        """Cache key of a per-document result: the document's content and the model.
        Raises `LlmUnavailable` without a model, `NotFound` / `DocumentNotReady`."""
        model = self.llm.require()
        document = self._ready(tenant, document_id)
        return document_key(kind, tenant, document, model.name)
