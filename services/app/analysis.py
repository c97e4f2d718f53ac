"""AnalysisService: questions, summaries and risk reports over a tenant's ready documents.

Thin orchestration (no HTTP): picks the documents, retrieves or loads their chunks, calls
`pipelines.answers` / `summaries` / `risks` with the LLM, and caches the results in an
`AnalysisCache` (the store's database or Redis; hits and misses in `CacheMetrics`):

- answers by (tenant, normalised question, the version of the documents in scope, model,
  thinking): a document becoming ready or being deleted changes the version, so the next
  ask misses and is recomputed; each answer is kept with the documents it cites (those its
  model saw, its evidence), so deleting one of them erases it;
- summaries and risk reports by (tenant, document, its sha256 and chunk count, model);
  `refresh=True` recomputes and replaces them.

A result is put first and its documents checked after: one deleted meanwhile (delete removes
its row before its cache entries) has what was just put forgotten again, so a task still
running on a deleted document leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from typing import Literal

from pydantic import BaseModel

from pipelines.answers import (
    NOT_FOUND,
    Answer,
    AnswerStream,
    answer_question,
    stream_answer,
    whole_document_candidates,
    with_evidence,
)
from pipelines.errors import DocumentNotReady, NotFound
from pipelines.evidence import EVIDENCE_LIMIT, best_relevance, collect_evidence
from pipelines.extract import OPENING_UNITS, Extracted, extract_fields, fields_for, readable
from pipelines.models import Document, DocumentStatus, ScoredChunk
from pipelines.passages import search_passages
from pipelines.query import plan_query
from pipelines.rerank import LexicalReranker
from pipelines.risk_candidates import PER_CATEGORY, Selection
from pipelines.risk_taxonomy import RiskCategory
from pipelines.risks import RiskReport, detect_kind, extract_risks
from pipelines.summaries import summarize
from pipelines.summary_models import ContractSummary, ReportSummary
from services.app.cache import CacheMetrics
from services.app.ports import (
    AnalysisCache,
    AnalysisStore,
    ChatModel,
    Embedder,
    LlmSource,
    Progress,
    Reranker,
    TokenCounter,
    VectorIndex,
)
from services.app.step_cache import StepCachedModel

Kind = Literal["answers", "summaries", "risks"]
ANSWER_FORMAT = 2
"""Part of an answer's cache key: answers cached before they carried evidence (1) miss."""
RISKS_FORMAT = 2
"""Part of the risk cache key: 2 is retrieval-chosen candidates classified in batches
(reports cached by the whole-document extractor before are computed anew)."""
SUMMARY_FORMAT = 2
"""Part of the summary cache key: 2 is statements with located evidence (summaries cached
before, with the model's own pages, are computed anew)."""


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


def normalise_question(question: str) -> str:
    """Casefolded, whitespace collapsed: the form answers are cached under."""
    return " ".join(question.casefold().split())


def _digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()


def documents_version(documents: Sequence[Document]) -> str:
    """A hash of the ids, contents and chunk counts of `documents` (order ignored)."""
    return _digest(sorted((d.id, d.sha256, d.chunks_total or 0) for d in documents))


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


class AnalysisService:
    """Questions, summaries and risk reports of one deployment, with their cache."""

    def __init__(
        self,
        *,
        store: AnalysisStore,
        embedder: Embedder,
        index: VectorIndex,
        counter: TokenCounter,
        llm: LlmSource,
        cache: AnalysisCache,
        metrics: CacheMetrics | None = None,
        retrieval_limit: int = 10,
        reranker: Reranker | None = None,
        candidates: int = 50,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.index = index
        self.counter = counter
        self.llm = llm
        self.cache = cache
        self.retrieval_limit = retrieval_limit
        self.reranker = reranker
        self.candidates = candidates
        self.metrics = metrics or CacheMetrics()

    def cache_stats(self, tenant: str | None = None) -> dict[str, dict[str, int]]:
        """Hits and misses per kind since this service started: the tenant's, or all."""
        return self.metrics.counts(tenant)

    # --- questions ------------------------------------------------------------------

    def ask(
        self,
        tenant: str,
        question: str,
        document_ids: Sequence[str] | None = None,
        *,
        thinking: bool = False,
    ) -> AskResult:
        """Answer from the tenant's ready documents (or those of `document_ids`, which must
        all be ready: `DocumentNotReady` otherwise, `NotFound` for unknown ids)."""
        model = self.llm.require()
        scope = self._scope(tenant, document_ids)
        key = self._answer_key(tenant, question, scope, model.name, thinking)
        hit = self._lookup("answers", key, tenant)
        if hit is not None:
            return AskResult(answer=Answer.model_validate_json(hit), model=model.name, cached=True)
        candidates, evidence = self._candidates(tenant, question, scope)
        answer = answer_question(
            question,
            candidates,
            llm=model,
            counter=self.counter,
            budget=self.llm.budget,
            titles=_titles(scope),
            thinking=thinking,
            cache_salt=tenant,
        )
        answer = self._with_evidence(answer, tenant, question, scope, evidence)
        self._put_answer(key, answer, tenant, scope, [*candidates, *evidence])
        return AskResult(answer=answer, model=model.name, cached=False)

    def stream(
        self,
        tenant: str,
        question: str,
        document_ids: Sequence[str] | None = None,
        *,
        thinking: bool = False,
    ) -> CachedStream:
        """`ask` streamed: iterate the text deltas, then `result()`. A cached answer is
        replayed as one delta. Errors before the first delta are raised here."""
        model = self.llm.require()
        scope = self._scope(tenant, document_ids)
        key = self._answer_key(tenant, question, scope, model.name, thinking)
        hit = self._lookup("answers", key, tenant)
        if hit is not None:
            answer = Answer.model_validate_json(hit)
            result = AskResult(answer=answer, model=model.name, cached=True)
            return CachedStream(iter([answer.text]), iter([result]))
        candidates, evidence = self._candidates(tenant, question, scope)
        stream: AnswerStream = stream_answer(
            question,
            candidates,
            llm=model,
            counter=self.counter,
            budget=self.llm.budget,
            titles=_titles(scope),
            thinking=thinking,
            cache_salt=tenant,
        )

        def finish() -> Iterator[AskResult]:
            answer = self._with_evidence(stream.answer(), tenant, question, scope, evidence)
            self._put_answer(key, answer, tenant, scope, [*candidates, *evidence])
            yield AskResult(answer=answer, model=model.name, cached=False)

        return CachedStream(stream, finish())

    # --- per document ---------------------------------------------------------------

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

    def _put_answer(
        self,
        key: str,
        answer: Answer,
        tenant: str,
        scope: Sequence[Document],
        passages: Sequence[ScoredChunk],
    ) -> None:
        """Cache the answer with the documents it cites: those of the passages the model
        saw or shown as evidence, and any of the scope it names (values read, citations).
        One deleted meanwhile forgets it again."""
        text = answer.model_dump_json()
        cited = list(
            dict.fromkeys(
                [*(p.chunk.document_id for p in passages), *(d.id for d in scope if d.id in text)]
            )
        )
        self.cache.put(key, text, kind="answers", tenant=tenant, document_ids=cited)
        for gone in set(cited) - self.store.existing_ids(cited):
            self.cache.forget_document(gone)

    # --- helpers --------------------------------------------------------------------

    def _lookup(self, kind: Kind, key: str, tenant: str) -> str | None:
        hit = self.cache.get(key)
        self.metrics.record(kind, hit=hit is not None, tenant=tenant)
        return hit

    def _document_key(self, kind: str, tenant: str, document_id: str) -> str:
        """Cache key of a per-document result: the document's content and the model.
        Raises `LlmUnavailable` without a model, `NotFound` / `DocumentNotReady`."""
        model = self.llm.require()
        document = self._ready(tenant, document_id)
        return _digest(
            kind, tenant, document.id, document.sha256, document.chunks_total, model.name
        )

    def require_ready(self, tenant: str, document_id: str) -> Document:
        """The tenant's ready document, with a model to analyse it. Raises `LlmUnavailable`,
        `NotFound` (also another tenant's id) or `DocumentNotReady`."""
        self.llm.require()
        return self._ready(tenant, document_id)

    def _ready(self, tenant: str, document_id: str) -> Document:
        document = self.store.get_document(tenant, document_id)  # NotFound across tenants
        if document.status is not DocumentStatus.READY:
            detail = f": {document.reason}" if document.reason else ""
            raise DocumentNotReady(
                f"document {document.id} is {document.status.value}{detail}; "
                "analysis needs a ready document"
            )
        return document

    def _scope(self, tenant: str, document_ids: Sequence[str] | None) -> list[Document]:
        if document_ids:
            return [self._ready(tenant, i) for i in dict.fromkeys(document_ids)]
        return self.store.list_documents(tenant, DocumentStatus.READY)

    def _answer_key(
        self, tenant: str, question: str, scope: Sequence[Document], model: str, thinking: bool
    ) -> str:
        return _digest(
            "answer",
            ANSWER_FORMAT,
            tenant,
            normalise_question(question),
            documents_version(scope),
            model,
            thinking,
        )

    def _whole_scope_chunks(self) -> int:
        """Scopes of at most this many chunks are loaded and tried whole (packed like the
        summary) before retrieval; a bound on what is worth loading to find out."""
        return max(1, self.llm.budget.prompt_limit // 64)

    def _candidates(
        self, tenant: str, question: str, scope: Sequence[Document]
    ) -> tuple[list[ScoredChunk], list[ScoredChunk]]:
        """What the model is given, and the passages shown as evidence: the candidates
        retrieved, or (when whole documents are packed) the best passages retrieval finds."""
        if not scope:
            return [], []
        ids = [d.id for d in scope]
        if sum(d.chunks_total or 0 for d in scope) <= self._whole_scope_chunks():
            chunks = [c for d in scope for c in self.store.load_chunks(d.id)]
            whole = whole_document_candidates(
                question,
                chunks,
                counter=self.counter,
                budget=self.llm.budget,
                titles=_titles(scope),
            )
            if whole is not None:  # packed like the summary: its cached prefix is reused
                return whole, self._search(tenant, question, ids, EVIDENCE_LIMIT)
        found = self._search(tenant, question, ids, self.retrieval_limit)
        return found, found

    def _with_evidence(
        self,
        answer: Answer,
        tenant: str,
        question: str,
        scope: Sequence[Document],
        passages: Sequence[ScoredChunk],
    ) -> Answer:
        """The answer with its evidence, the values read without the model, and a "not
        found" checked against the passages' relevance."""
        evidence = collect_evidence(question, passages, _titles(scope))
        return with_evidence(
            answer,
            evidence,
            self._extract(question, scope, passages),
            relevance=best_relevance(question, passages),
        )

    def _extract(
        self, question: str, scope: Sequence[Document], passages: Sequence[ScoredChunk]
    ) -> list[Extracted]:
        """Governing law and dates the question asks about, from each document's best
        passages and opening units (documents among the passages first, at most 5)."""
        fields = fields_for(plan_query(question).categories)
        if not fields:
            return []
        order = [*dict.fromkeys(p.chunk.document_id for p in passages), *(d.id for d in scope)]
        found: list[Extracted] = []
        for document_id in list(dict.fromkeys(order))[:EVIDENCE_LIMIT]:
            openings = self.store.get_chunks(document_id, list(range(OPENING_UNITS)))
            found += extract_fields(
                fields,
                readable(
                    [p.chunk for p in passages if p.chunk.document_id == document_id], self.store
                ),
                openings,
                self.store.load_page_starts(document_id),
            )
        return found

    def _search(
        self, tenant: str, query: str, document_ids: Sequence[str], limit: int
    ) -> list[ScoredChunk]:
        """Clauses for a prompt: hybrid candidates, reranked, grown to their clause."""
        return search_passages(
            query,
            tenant=tenant,
            embedder=self.embedder,
            index=self.index,
            chunks=self.store,
            reranker=self.reranker,
            limit=limit,
            document_ids=document_ids,
            candidates=self.candidates,
        )


def _titles(scope: Sequence[Document]) -> dict[str, str]:
    return {d.id: d.filename for d in scope}
