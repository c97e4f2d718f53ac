"""build_container(settings): every adapter is chosen here, in one place."""

from __future__ import annotations

from dataclasses import dataclass, field

from pipelines.ports import Embedder, Reranker, TokenCounter, VectorIndex
from services.adapters.analysis_cache import SqlAnalysisCache
from services.adapters.blobs import FileBlobStore
from services.adapters.embedders import load_embedder
from services.adapters.erasure import SqlEraser
from services.adapters.jobs import SqlJobStore
from services.adapters.page_usage import SqlPageLedger
from services.adapters.pdf import Pypdfium2Parser
from services.adapters.store import SqlStore
from services.adapters.tokens import load_token_counter
from services.app.analysis import AnalysisService
from services.app.cache import AnalysisCache
from services.app.documents import DocumentService, TaskQueue
from services.app.jobs import JobService
from services.runtime.llm import LlmHandle, open_llm
from services.runtime.metrics import ServiceMetrics, build_metrics
from services.settings import Settings


@dataclass
class Container:
    settings: Settings
    store: SqlStore
    embedder: Embedder
    counter: TokenCounter
    index: VectorIndex
    documents: DocumentService
    llm: LlmHandle
    reranker: Reranker | None = None
    cache: AnalysisCache | None = None
    """The analysis cache (None: built here from the settings)."""
    analysis: AnalysisService = field(init=False)
    jobs: JobService = field(init=False)
    metrics: ServiceMetrics = field(init=False)

    def __post_init__(self) -> None:
        self.analysis = AnalysisService(
            store=self.store, embedder=self.embedder, index=self.index,
            counter=self.counter, llm=self.llm,
            cache=self.cache or build_analysis_cache(self.settings, self.store),
            reranker=self.reranker, candidates=self.settings.reranker.candidates,
        )
        self.jobs = JobService(jobs=SqlJobStore(self.store.engine), analysis=self.analysis,
                               queue=self.documents.queue,  # type: ignore[arg-type]
                               max_attempts=self.settings.worker.analysis_max_retries + 1)
        self.metrics, self._queue_depths = build_metrics(self)  # also observes the LLM

    def close(self) -> None:
        self._queue_depths.close()
        close_cache = getattr(self.analysis.cache, "close", None)
        if close_cache is not None:
            close_cache()
        self.llm.close()
        close_reranker = getattr(self.reranker, "close", None)
        if close_reranker is not None:
            close_reranker()
        self.index.close()
        self.store.close()


def build_index(settings: Settings, dimension: int) -> VectorIndex:
    """Qdrant's engine in-process (embedded default) or a Qdrant server (production)."""
    if settings.index.mode == "qdrant":
        from services.adapters.qdrant_server import QdrantServerIndex

        api_key = settings.index.api_key.get_secret_value() if settings.index.api_key else None
        return QdrantServerIndex.connect(
            settings.index.collection, dimension, url=settings.index.url, api_key=api_key
        )
    from services.adapters.qdrant_edge import EdgeIndex

    return EdgeIndex(settings.index_dir / settings.index.collection, dimension)


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


def build_container(settings: Settings, queue: TaskQueue | None = None) -> Container:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # the embedded deployment migrates its schema on start; production checks (db upgrade)
    store = SqlStore(settings.store_url, upgrade=settings.worker.embedded)
    embedder = load_embedder(
        settings.embedder.kind,
        settings.embedder.model,
        settings.embedder.device,
        settings.embedder.batch_size,
    )
    counter = load_token_counter()
    index = build_index(settings, embedder.dimension)
    parser = Pypdfium2Parser(
        max_pages=settings.parser.max_pages,
        page_timeout_s=settings.parser.page_timeout_s,
        total_timeout_s=settings.parser.total_timeout_s,
        memory_limit_mb=settings.parser.memory_limit_mb,
        ocr=settings.parser.ocr,
        ocr_languages=settings.parser.ocr_languages,
    )
    cache = build_analysis_cache(settings, store)
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
    )
    llm = open_llm(settings.llm)
    return Container(
        settings, store, embedder, counter, index, documents, llm, build_reranker(settings),
        cache,
    )
