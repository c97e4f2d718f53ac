"""The composition root: every adapter is chosen, and every object built, here.

`build_container(settings, queue)` builds the deployment's adapters and use cases through
their constructors (nothing is patched afterwards); the API (services/api/app.py, through
services/runtime/processes.py), the CLI and the Celery workers (`worker_app`, for
workers/main.py) get what they need from it. Only this package imports services/adapters
and workers/ (tests/unit/test_architecture.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from celery import Celery

from services.adapters.analysis_cache import SqlAnalysisCache
from services.adapters.api_keys import SqlApiKeyStore
from services.adapters.blobs import FileBlobStore
from services.adapters.comparisons import SqlComparisonStore
from services.adapters.document_versions import SqlDocumentVersions
from services.adapters.embedders import DEFAULT_OPENAI_MODEL, DEFAULT_ST_MODEL, load_embedder
from services.adapters.erasure import SqlEraser
from services.adapters.index_catalog import SqlIndexCatalog
from services.adapters.job_counts import JobCounts
from services.adapters.jobs import SqlJobStore
from services.adapters.obligations import SqlObligationStore
from services.adapters.page_cache import FilePageCache
from services.adapters.page_usage import SqlPageLedger
from services.adapters.pdf import Pypdfium2Parser
from services.adapters.pdf_geometry import PdfiumGeometry
from services.adapters.rate_limit_redis import RedisRateLimiter
from services.adapters.reports import SqlReportStore
from services.adapters.store import SqlStore
from services.adapters.tokens import load_token_counter
from services.app.analysis import AnalysisService
from services.app.auth import KeyService, Limiter, RateLimiter
from services.app.cache import CacheMetrics
from services.app.comparisons import ComparisonService
from services.app.diffs import DiffService
from services.app.documents import DocumentService
from services.app.highlights import HighlightService
from services.app.index_routes import IndexRoutes
from services.app.jobs import JobService
from services.app.obligations import ObligationService
from services.app.ports import (
    AnalysisCache,
    Embedder,
    EmbedderSpec,
    Reranker,
    TaskQueue,
    TokenCounter,
    VectorIndex,
)
from services.app.reindex import ReindexService
from services.app.reports import ReportService
from services.app.sweep import Sweep
from services.app.versions import VersionService
from services.runtime.llm import LlmHandle, open_llm
from services.runtime.metrics import ServiceMetrics
from services.settings import Settings
from workers.celery_app import INDEX_QUEUE, QUEUES, create_celery
from workers.context import ContextSource, TaskContext
from workers.metrics import QueueDepths
from workers.queue import CeleryTaskQueue


@dataclass
class Container:
    """What one deployment is made of, built by `build_container`."""

    settings: Settings
    store: SqlStore
    embedder: Embedder
    counter: TokenCounter
    index: VectorIndex
    llm: LlmHandle
    reranker: Reranker | None
    cache: AnalysisCache
    documents: DocumentService
    analysis: AnalysisService
    jobs: JobService
    reports: ReportService
    keys: KeyService
    sweep: Sweep
    metrics: ServiceMetrics
    queue_depths: QueueDepths
    routes: IndexRoutes  # each tenant's embedder and collection
    reindex: ReindexService
    highlights: HighlightService  # page rectangles and images for the review page
    comparisons: ComparisonService  # comparison tables over many documents
    obligations: ObligationService  # key dates of contracts, the calendar feed
    versions: VersionService  # new versions of a document, and its chain
    diffs: DiffService  # clause-level diff of two versions

    def task_context(self) -> TaskContext:
        """What the Celery tasks call (workers/context.py)."""
        return TaskContext(
            documents=self.documents,
            jobs=self.jobs,
            reports=self.reports,
            sweep=self.sweep,
            metrics=self.metrics,
            reindex=self.reindex,
            comparisons=self.comparisons,
        )

    def close(self) -> None:
        self.queue_depths.close()
        close_cache = getattr(self.analysis.cache, "close", None)
        if close_cache is not None:
            close_cache()
        self.llm.close()
        self.documents.close()
        close_reranker = getattr(self.reranker, "close", None)
        if close_reranker is not None:
            close_reranker()
        self.routes.close()  # every embedder and index opened, the configured ones too
        self.store.close()


def build_index(settings: Settings, dimension: int, collection: str | None = None) -> VectorIndex:
    """Qdrant's engine in-process (embedded default) or a Qdrant server (production); the
    collection `collection` (default: settings.index.collection)."""
    collection = collection or settings.index.collection
    if settings.index.mode == "qdrant":
        from services.adapters.qdrant_server import QdrantServerIndex

        api_key = settings.index.api_key.get_secret_value() if settings.index.api_key else None
        return QdrantServerIndex.connect(
            collection, dimension, url=settings.index.url, api_key=api_key
        )
    from services.adapters.qdrant_edge import EdgeIndex

    return EdgeIndex(settings.index_dir / collection, dimension)


def open_embedder(settings: Settings, spec: EmbedderSpec) -> Embedder:
    """The embedder of `spec` (recorded with a collection), with these settings' device,
    batch size, key and timeouts."""
    es = settings.embedder
    return load_embedder(
        spec.kind,  # type: ignore[arg-type]  # recorded from EmbedderSettings.kind
        spec.model,
        es.device,
        es.batch_size,
        url=spec.url,
        api_key=es.api_key.get_secret_value() if es.api_key else None,
        timeout_s=es.timeout_s,
        max_retries=es.max_retries,
        query_prefix=spec.query_prefix,
        concurrent_calls=es.concurrent_calls,
    )


def build_routes(settings: Settings, store: SqlStore, embedder: Embedder) -> IndexRoutes:
    """Each tenant's embedder and collection: `embedder` (the configured one) is where
    `docsight reindex` moves tenants; others are loaded from their recorded specs."""
    es = settings.embedder
    defaults = {"sentence-transformers": DEFAULT_ST_MODEL, "openai": DEFAULT_OPENAI_MODEL}
    spec = EmbedderSpec(  # the model as loaded: "unset" and the default name are one embedder
        kind=es.kind,
        model=str(embedder.dimension) if es.kind == "hash" else es.model or defaults.get(es.kind),
        dimension=embedder.dimension,
        url=es.url,
        query_prefix=es.query_prefix,
    )
    return IndexRoutes(
        catalog=SqlIndexCatalog(store.engine),
        first=settings.index.collection,
        current=spec,
        embedder=embedder,
        open_embedder=lambda recorded: open_embedder(settings, recorded),
        open_index=lambda name, dimension: build_index(settings, dimension, name),
        batch_size=es.batch_size,
        wait_s=es.batch_wait_s,
    )


def build_reranker(settings: Settings) -> Reranker | None:
    """The lexical scorer (embedded default), a cross-encoder over HTTP (production) or none."""
    if settings.reranker.mode == "http":
        from services.adapters.reranker_http import HttpReranker

        rr = settings.reranker
        assert rr.url  # checked by Settings
        return HttpReranker(
            rr.url, rr.model,
            api_key=rr.api_key.get_secret_value() if rr.api_key else None,
            timeout_s=rr.timeout_s, max_retries=rr.max_retries, batch_size=rr.batch_size,
        )  # fmt: skip
    if settings.reranker.mode == "lexical":
        from pipelines.rerank import LexicalReranker

        return LexicalReranker()
    return None


def build_analysis_cache(settings: Settings, store: SqlStore) -> AnalysisCache:
    """The store's database (embedded default) or a shared Redis (production)."""
    if settings.cache.mode == "redis":
        from services.adapters.analysis_cache_redis import RedisAnalysisCache

        assert settings.cache.url  # checked by Settings
        return RedisAnalysisCache(settings.cache.url, ttl_s=settings.cache.ttl_s)
    return SqlAnalysisCache(store.engine)


def build_limiter(settings: Settings) -> Limiter:
    """Per process; in Redis when the broker is Redis (API replicas share the budget)."""
    if settings.broker.mode == "redis" and settings.broker.url:
        return RedisRateLimiter(settings.broker.url, settings.api.rate_per_minute)
    return RateLimiter(settings.api.rate_per_minute)


@contextmanager
def key_service(settings: Settings) -> Iterator[KeyService]:
    """The API keys of these settings' metadata store, without the rest of the deployment
    (the admin CLI); the store is closed on leaving."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = SqlStore(settings.store_url, upgrade=settings.worker.embedded)
    try:
        yield KeyService(SqlApiKeyStore(store.engine), cache_s=settings.api.key_cache_s)
    finally:
        store.close()


def build_container(settings: Settings, queue: TaskQueue | None = None) -> Container:
    """Every adapter and use case of `settings`; `queue` sends the workers' tasks (None:
    a container that sends none)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # the embedded deployment migrates its schema on start; production checks (db upgrade)
    store = SqlStore(settings.store_url, upgrade=settings.worker.embedded)
    es = settings.embedder
    embedder = open_embedder(
        settings, EmbedderSpec(es.kind, es.model, 0, url=es.url, query_prefix=es.query_prefix)
    )
    counter = load_token_counter()
    routes = build_routes(settings, store, embedder)
    index = routes.current().index  # the configured embedder's collection
    parser = Pypdfium2Parser(
        max_pages=settings.parser.max_pages,
        page_timeout_s=settings.parser.page_timeout_s,
        total_timeout_s=settings.parser.total_timeout_s,
        memory_limit_mb=settings.parser.memory_limit_mb,
        ocr=settings.parser.ocr,
        ocr_languages=settings.parser.ocr_languages,
        processes=settings.parser.processes,
    )
    cache = build_analysis_cache(settings, store)
    cache_metrics = CacheMetrics()  # the deployment's registry: one per container
    queue_depths = QueueDepths(settings, (*QUEUES, INDEX_QUEUE))
    metrics = ServiceMetrics(
        cache_metrics.registry,
        documents=store.count_by_status,
        jobs=JobCounts(store.engine),
        queues=queue_depths,
    )
    page_cache = FilePageCache(
        settings.data_dir / "pages", int(settings.cache.pages_mb * 1024 * 1024)
    )
    obligations = ObligationService(store=SqlObligationStore(store.engine), documents=store)
    documents = DocumentService(
        settings=settings,
        store=store,
        blobs=FileBlobStore(settings.blob_dir),
        pages=SqlPageLedger(store.engine),
        parser=parser,
        counter=counter,
        embedder=embedder,
        index=index,
        queue=queue,
        eraser=SqlEraser(store.engine),
        cache=cache,  # a deleted document's cached analyses go with it
        routes=routes,
        page_cache=page_cache,  # and its rendered pages
        obligations=obligations,  # read from a contract when it is indexed
    )
    llm = open_llm(settings.llm, observer=metrics.observe_llm)
    reranker = build_reranker(settings)
    analysis = AnalysisService(
        store=store,
        embedder=embedder,
        index=index,
        counter=counter,
        llm=llm,
        cache=cache,
        metrics=cache_metrics,
        reranker=reranker,
        candidates=settings.reranker.candidates,
        routes=routes,
    )
    jobs = JobService(
        jobs=SqlJobStore(store.engine),
        analysis=analysis,
        queue=queue,
        max_active_per_tenant=settings.api.max_active_jobs,
        max_attempts=settings.worker.analysis_max_retries + 1,
    )
    reports = ReportService(
        store=store,
        reports=SqlReportStore(store.engine),
        analysis=analysis,
        jobs=jobs,
        settings=settings.reports,
        queue=queue,
        obligations=obligations.store,  # the report's "due in the next 30 / 90 days"
    )
    reindex = ReindexService(
        store=store, catalog=SqlIndexCatalog(store.engine), routes=routes, queue=queue
    )
    comparisons = ComparisonService(
        comparisons=SqlComparisonStore(store.engine),
        analysis=analysis,
        queue=queue,
        fan_out=settings.worker.comparison_fan_out,
        max_attempts=settings.worker.analysis_max_retries + 1,
    )
    return Container(
        settings=settings,
        store=store,
        embedder=embedder,
        counter=counter,
        index=index,
        llm=llm,
        reranker=reranker,
        cache=cache,
        documents=documents,
        analysis=analysis,
        jobs=jobs,
        reports=reports,
        keys=KeyService(SqlApiKeyStore(store.engine), cache_s=settings.api.key_cache_s),
        sweep=Sweep(
            documents,
            jobs,
            settings.worker.stuck_after_s,
            reindex=reindex,
            obligations=obligations,
            comparisons=comparisons,
        ),
        metrics=metrics,
        queue_depths=queue_depths,
        routes=routes,
        reindex=reindex,
        highlights=build_highlights(settings, store, page_cache),
        comparisons=comparisons,
        obligations=obligations,
        versions=VersionService(documents=documents, versions=SqlDocumentVersions(store.engine)),
        diffs=DiffService(
            store=store, versions=SqlDocumentVersions(store.engine), risks=analysis, cache=cache
        ),
    )


def build_highlights(
    settings: Settings, store: SqlStore, page_cache: FilePageCache
) -> HighlightService:
    """Page geometry in a child process per request; renders and OCR boxes cached under
    <data_dir>/pages."""
    ps = settings.parser
    geometry = PdfiumGeometry(
        timeout_s=max(ps.page_timeout_s, 30.0) * 2,
        memory_limit_mb=ps.memory_limit_mb,
        ocr=ps.ocr,
        ocr_languages=ps.ocr_languages,
        processes=ps.processes,
    )
    return HighlightService(
        store=store,
        blobs=FileBlobStore(settings.blob_dir),
        geometry=geometry,
        cache=page_cache,
    )


def worker_app(settings: Settings) -> Celery:
    """A standalone worker's Celery app (workers/main.py): its container is built by the
    first task that needs it."""

    def build() -> TaskContext:
        return build_container(settings, queue=CeleryTaskQueue(app)).task_context()

    app: Celery = create_celery(settings, context=ContextSource(build))
    return app
