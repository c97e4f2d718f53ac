"""QuestionService: questions answered from a tenant's ready documents, with their cache.

Thin orchestration (no HTTP): picks the documents in scope, retrieves their passages (or
packs them whole), calls `pipelines.answers` with the LLM, and caches the answer in an
`AnalysisCache` (hits and misses in `CacheMetrics`) under `cache_keys.answer_key`. Each
answer is kept with the documents it cites (those its model saw, its evidence), so deleting
one of them erases it; one deleted while the answer was made has it forgotten again.

It also holds what the per-document analyses (`services.app.analysis.AnalysisService`, built
on it) share: the dependencies, the ready-document checks, cache lookups and passage search.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from pipelines.answer_models import Answer
from pipelines.answer_writer import AnswerStream
from pipelines.answers import (
    answer_question,
    stream_answer,
    whole_document_candidates,
    with_evidence,
)
from pipelines.evidence import EVIDENCE_LIMIT, best_relevance, collect_evidence
from pipelines.extract import OPENING_UNITS, Extracted, extract_fields, fields_for, readable
from pipelines.models import Document, DocumentStatus, ScoredChunk
from pipelines.passages import search_passages
from pipelines.query import plan_query
from services.app.analysis_results import AskResult, CachedStream
from services.app.cache import CacheMetrics
from services.app.cache_keys import Kind, answer_key
from services.app.index_routes import IndexRoutes
from services.app.ports import (
    AnalysisCache,
    AnalysisStore,
    Embedder,
    LlmSource,
    Reranker,
    TokenCounter,
    VectorIndex,
)


class QuestionService:
    """Questions over a deployment's ready documents, with their cache."""

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
        routes: IndexRoutes | None = None,
    ) -> None:
        """`routes`: each tenant's embedder and collection (None: `embedder` and `index`
        for every tenant)."""
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
        self.routes = routes

    def cache_stats(self, tenant: str | None = None) -> dict[str, dict[str, int]]:
        """Hits and misses per kind since this service started: the tenant's, or all."""
        return self.metrics.counts(tenant)

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
        key = answer_key(tenant, question, scope, model.name, thinking)
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
        key = answer_key(tenant, question, scope, model.name, thinking)
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

    # --- shared with the per-document analyses ----------------------------------------

    def _lookup(self, kind: Kind, key: str, tenant: str) -> str | None:
        hit = self.cache.get(key)
        self.metrics.record(kind, hit=hit is not None, tenant=tenant)
        return hit

    def require_ready(self, tenant: str, document_id: str) -> Document:
        """The tenant's ready document, with a model to analyse it. Raises `LlmUnavailable`,
        `NotFound` (also another tenant's id) or `DocumentNotReady`."""
        self.llm.require()
        return self._ready(tenant, document_id)

    def _ready(self, tenant: str, document_id: str) -> Document:
        document = self.store.get_document(tenant, document_id)  # NotFound across tenants
        return document.require_ready("analysis needs a ready document")

    def _scope(self, tenant: str, document_ids: Sequence[str] | None) -> list[Document]:
        if document_ids:
            return [self._ready(tenant, i) for i in dict.fromkeys(document_ids)]
        return self.store.list_documents(tenant, DocumentStatus.READY)

    def _search(
        self, tenant: str, query: str, document_ids: Sequence[str], limit: int
    ) -> list[ScoredChunk]:
        """Clauses for a prompt: hybrid candidates, reranked, grown to their clause."""
        embedder, index = self.embedder, self.index
        if self.routes is not None:  # the tenant's collection (moved by `docsight reindex`)
            route = self.routes.for_search(tenant)
            embedder, index = route.embedder, route.index
        return search_passages(
            query,
            tenant=tenant,
            embedder=embedder,
            index=index,
            chunks=self.store,
            reranker=self.reranker,
            limit=limit,
            document_ids=document_ids,
            candidates=self.candidates,
        )

    # --- what the model and the evidence are given -----------------------------------

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


def _titles(scope: Sequence[Document]) -> dict[str, str]:
    return {d.id: d.filename for d in scope}
