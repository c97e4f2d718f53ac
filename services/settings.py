"""One typed settings object chooses every component. Env vars: DOCSIGHT_<SECTION>__<FIELD>."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipelines.report_limits import AnalysisLimits

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


class StoreSettings(BaseModel):
    """Metadata store: SQLite file by default, PostgreSQL in production."""

    url: str | None = None  # default: sqlite:///<data_dir>/docsight.db


class BrokerSettings(BaseModel):
    """Celery broker: kombu's server-less filesystem transport by default, Redis in production."""

    mode: Literal["filesystem", "redis"] = "filesystem"
    url: str | None = None  # redis://host:6379/0 when mode is redis
    polling_interval_s: float = 0.05


class IndexSettings(BaseModel):
    """Vector index: Qdrant's engine in-process (edge) or a Qdrant server through qdrant-client."""

    mode: Literal["edge", "qdrant"] = "edge"
    url: str | None = None  # http://qdrant:6333 when mode is qdrant
    api_key: SecretStr | None = None
    collection: str = "docsight_chunks"


class CacheSettings(BaseModel):
    """Analysis cache (answers, summaries, risk reports): the metadata store's database by
    default, Redis in production (shared by API replicas, entries expire after `ttl_s`)."""

    mode: Literal["store", "redis"] = "store"
    url: str | None = None  # redis://host:6379/1 when mode is redis
    ttl_s: float = Field(default=7 * 24 * 3600, gt=0)  # redis mode
    pages_mb: float = Field(default=2048, ge=0)
    """Rendered pages and OCR boxes for the review page (`<data_dir>/pages`): the least
    recently used files are removed past this many MB (0: no bound)."""


class EmbedderSettings(BaseModel):
    kind: Literal["sentence-transformers", "use-onnx", "hash", "openai"] = "use-onnx"
    model: str | None = None  # name or path; None picks the kind's bundled default
    # kind "openai": an OpenAI-compatible /embeddings server (vLLM --runner pooling)
    url: str | None = None  # e.g. http://embeddings:8000/v1
    api_key: SecretStr | None = None
    timeout_s: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=3, ge=0)
    query_prefix: str | None = None  # put before every query (Qwen3-Embedding's instruction)
    device: str | None = None  # None: cuda when available
    batch_size: int = 32
    batch_wait_s: float = Field(default=0.05, ge=0)
    """Ingestion batches the chunks of several documents into one embedding call
    (`services.app.embed_batches`): how long a batch waits to fill to `batch_size`."""
    concurrent_calls: int = Field(default=4, ge=1)
    """Kind openai: ingestion's embedding calls in flight at once (the server batches
    concurrent requests). An in-process model takes one call at a time (it uses every core)."""


class ParserSettings(BaseModel):
    """`pages_per_minute`: pages parsed per tenant in any minute (0: no limit); counted when
    a document is parsed; at the limit, uploads get 429 and queued documents wait."""

    max_upload_mb: float = 100.0
    max_pages: int = 2000
    pages_per_minute: int = Field(default=2000, ge=0)
    page_timeout_s: float = 30.0
    total_timeout_s: float = 900.0
    memory_limit_mb: int = 2048
    processes: int | None = Field(default=None, ge=1)  # PDFs parsed at once; None: cores
    ocr: bool = True
    ocr_languages: str = "chi_sim+eng"


class ChunkingSettings(BaseModel):
    """Documents are indexed as small units (a clause or a few sentences, no overlap);
    search returns the enclosing clause (`pipelines.passages`)."""

    max_tokens: int = 128
    overlap_tokens: int = 0


class WorkerSettings(BaseModel):
    """`embedded`: the API process runs the Celery worker in a thread and owns the index."""

    embedded: bool = True
    concurrency: int = 2
    index_concurrency: int = Field(default=8, ge=1)
    """Index steps a worker runs at once (the `index` queue; threads that mostly wait for
    the shared embedding batches): more documents in flight, fuller batches."""
    resume_on_start: bool = True
    analysis_max_retries: int = 30  # an LLM down longer than ~25 min fails the job
    analysis_retry_max_s: float = 60.0  # backoff cap between attempts
    comparison_fan_out: int = Field(default=4, ge=1)
    """Documents of one comparison read at once (threads; most wait on the store or LLM)."""
    metrics_port: int | None = None  # a standalone worker serves /metrics here (--pool threads)
    stuck_after_s: float = Field(default=1800.0, gt=0)
    """A document or analysis job whose row has not moved for this long is sent again (a
    lost broker message); longer than any one step (a parse reports pages, a job steps)."""
    sweep_every_s: float = Field(default=60.0, gt=0)
    """How often stuck work is looked for (a thread in the embedded deployment, beat in
    production)."""


class LogSettings(BaseModel):
    """Log lines of `docsight serve` and standalone workers: one JSON object per line
    (time, level, logger, message, request/document/job ids, tenant) or plain text."""

    format: Literal["json", "text"] = "json"
    level: str = "INFO"


class ApiSettings(BaseModel):
    """`auth`: "keys" (every request but /health, /ready, /metrics and the docs carries an
    API key of a tenant) or "none" (every caller is `default_tenant`; loopback hosts only,
    for local experiments). Limits: `rate_per_minute` requests per API key (a token bucket
    per process; 0: none), `max_active_jobs` analysis jobs queued or running per tenant
    (0: none); request bodies and uploads in flight (`services.api.limits`)."""

    host: str = "127.0.0.1"
    port: int = 8000
    default_tenant: str = "default"
    auth: Literal["keys", "none"] = "keys"
    key_cache_s: float = Field(default=10.0, ge=0)  # a revoked key works at most this long
    rate_per_minute: int = Field(default=1200, ge=0)
    max_active_jobs: int = Field(default=16, ge=0)
    max_request_mb: float = Field(default=256.0, gt=0)
    """Whole body of one upload request (several PDFs); each file: parser.max_upload_mb."""
    max_body_kb: float = Field(default=1024.0, gt=0)
    """Body of every other request (JSON)."""
    max_uploads_per_tenant: int = Field(default=8, ge=0)
    """Uploads of one tenant received at once per process (0: no limit)."""
    unauthenticated_per_minute: int = Field(default=60, ge=0)
    """Requests without a valid key per client address and process, then 429 (0: none)."""


def usable_cpus() -> int:
    """CPU cores this process may use: its affinity, capped by a cgroup v2 CPU quota
    (`docker run --cpus 2` on a 64-core host is 2)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    quota = cgroup_cpu_quota()
    return max(1, min(cores, quota)) if quota is not None else cores


def cgroup_cpu_quota(path: str = "/sys/fs/cgroup/cpu.max") -> int | None:
    """Whole cores allowed by the cgroup v2 `cpu.max` ("200000 100000": 2), rounded up; None
    without a file or a limit ("max 100000")."""
    try:
        with open(path) as handle:
            quota, _, period = handle.read().strip().partition(" ")
        if quota == "max":
            return None
        return max(1, math.ceil(int(quota) / int(period or "100000")))
    except (OSError, ValueError, ZeroDivisionError):
        return None


class LlmSettings(BaseModel):
    """The LLM: an OpenAI-compatible server (vLLM with Qwen3 in production) at `base_url`, or,
    when `base_url` is None, an embedded llama.cpp `llama-server` with a small bundled model
    started on loopback (services/runtime/local_models/llm_server.py)."""

    base_url: str | None = None  # e.g. http://vllm:8000/v1; None: start the embedded server
    api_key: SecretStr | None = None
    model: str = "Qwen/Qwen3-8B"  # the served model name (vLLM --served-model-name)
    max_model_len: int = 32768  # prompt + output, as vLLM's --max-model-len
    max_output_tokens: int = 4096
    context_budget_tokens: int = 28000  # prompt budget; + max_output_tokens <= max_model_len
    # A request's timeout follows the measured speed (services/adapters/llm_speed.py):
    # timeout_factor x the time its prompt and max_tokens take at that speed, at least
    # timeout_min_s, at most timeout_s; doubled on each retry after a timeout.
    timeout_s: float = Field(default=300.0, gt=0)
    timeout_min_s: float = Field(default=30.0, gt=0)
    timeout_factor: float = Field(default=3.0, ge=1)
    # The speed assumed until requests measure it (tokens/s; None: a slow guess for the
    # embedded model on shared CPU cores, 50 and 10, or for a GPU server, 1000 and 20).
    prompt_tps: float | None = Field(default=None, gt=0)
    output_tps: float | None = Field(default=None, gt=0)
    max_retries: int = 2
    max_concurrency: int = 8  # requests in flight; match the server's capacity
    local_ctx: int = 4096  # the embedded model's window per request (prompt + output)
    local_parallel: int | None = Field(default=None, ge=1)
    """The embedded server's slots (--parallel); None: 1 on a machine of at most 2 CPU
    cores (two slots share them: each request took 1.8x as long for 15-25% more
    throughput, README "One slot on two cores"), else 2."""

    def local_slots(self) -> int:
        """`local_parallel`, or the default for this machine's cores."""
        if self.local_parallel is not None:
            return self.local_parallel
        return 1 if usable_cpus() <= 2 else 2

    cache_dir: Path = Path(".cache")  # llama-server binary and the assembled model


class RerankerSettings(BaseModel):
    """Second stage of retrieval: the best `candidates` of the hybrid search are rescored.
    `lexical`: the model-free scorer of `pipelines.rerank` (embedded default); `http`: a
    cross-encoder behind a rerank API at `url` (vLLM with bge-reranker-v2-m3 or
    Qwen3-Reranker in production; `{url}/rerank` is called); `none`: first-stage order."""

    mode: Literal["lexical", "http", "none"] = "lexical"
    url: str | None = None  # e.g. http://reranker:8000/v1 when mode is http
    model: str = "BAAI/bge-reranker-v2-m3"  # the served model name
    api_key: SecretStr | None = None
    timeout_s: float = Field(default=30.0, gt=0)
    max_retries: int = Field(default=2, ge=0)
    batch_size: int = Field(default=64, ge=1)  # documents per rerank request
    candidates: int = Field(default=50, ge=1)  # hybrid candidates reranked per query


class ReportSettings(BaseModel):
    """Daily reports: every day at `time` (HH:MM) in `timezone`, one report per tenant of the
    previous day (that day's window in `timezone`). A report waits for the analyses it
    misses, at most `max_outstanding_jobs` at a time, checking every `poll_s` and whenever
    an analysis job ends; meanwhile it is readable as it stands (status building); after
    `max_wait_s` it is finished with what exists (the rest marked pending).

    What a report asks analyses for is bounded (the defaults suit the embedded model on a
    few CPU cores; production raises them in compose): summaries of documents of at most
    `summary_max_pages` pages (0: any), risks of `risks_for` (contracts, all, none), both
    for at most `max_documents` documents of a day (0: any; the shortest first). Documents
    left out are listed as "not analysed (limit)"."""

    enabled: bool = True  # the beat schedule (in-process in the embedded deployment)
    time: str = Field(default="06:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    timezone: str = "UTC"
    max_outstanding_jobs: int = Field(default=8, ge=1)
    poll_s: float = Field(default=30.0, gt=0)
    max_wait_s: float = Field(default=3600, gt=0)  # embedded; production (compose): 6 h
    summary_max_pages: int = Field(default=10, ge=0)
    risks_for: Literal["contracts", "all", "none"] = "none"  # local risks: minutes a page
    max_documents: int = Field(default=6, ge=0)

    @property
    def limits(self) -> AnalysisLimits:
        return AnalysisLimits(
            summary_max_pages=self.summary_max_pages,
            risks_for=self.risks_for,
            max_documents=self.max_documents,
        )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {value!r} (an IANA name such as Asia/Shanghai)"
            ) from exc
        return value


class Settings(BaseSettings):
    """The root of every setting; validated once at start-up."""

    model_config = SettingsConfigDict(
        env_prefix="DOCSIGHT_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    data_dir: Path = Path("var")
    store: StoreSettings = StoreSettings()
    broker: BrokerSettings = BrokerSettings()
    index: IndexSettings = IndexSettings()
    cache: CacheSettings = CacheSettings()
    embedder: EmbedderSettings = EmbedderSettings()
    parser: ParserSettings = ParserSettings()
    chunking: ChunkingSettings = ChunkingSettings()
    worker: WorkerSettings = WorkerSettings()
    api: ApiSettings = ApiSettings()
    log: LogSettings = LogSettings()
    llm: LlmSettings = LlmSettings()
    reranker: RerankerSettings = RerankerSettings()
    reports: ReportSettings = ReportSettings()

    @model_validator(mode="after")
    def _check_modes(self) -> Settings:
        if self.broker.mode == "redis" and not self.broker.url:
            raise ValueError("broker.mode=redis needs DOCSIGHT_BROKER__URL (redis://host:6379/0)")
        if self.index.mode == "qdrant" and not self.index.url:
            raise ValueError("index.mode=qdrant needs DOCSIGHT_INDEX__URL (http://qdrant:6333)")
        if self.cache.mode == "redis" and not self.cache.url:
            raise ValueError("cache.mode=redis needs DOCSIGHT_CACHE__URL (redis://host:6379/1)")
        if self.embedder.kind == "openai" and not self.embedder.url:
            raise ValueError(
                "embedder.kind=openai needs DOCSIGHT_EMBEDDER__URL (http://embeddings:8000/v1)"
            )
        if self.reranker.mode == "http" and not self.reranker.url:
            raise ValueError(
                "reranker.mode=http needs DOCSIGHT_RERANKER__URL (http://reranker:8000/v1)"
            )
        if self.index.mode == "edge" and not self.worker.embedded:
            raise ValueError(
                "the embedded index (index.mode=edge) is opened by one process only: "
                "run the worker embedded (worker.embedded=true) or use a Qdrant server"
            )
        if self.api.auth == "none" and self.api.host not in LOOPBACK_HOSTS:
            raise ValueError(
                "api.auth=none serves every caller as the default tenant: "
                "only on a loopback host (api.host=127.0.0.1)"
            )
        if self.broker.mode == "filesystem" and not self.worker.embedded:
            raise ValueError("the filesystem broker is for the embedded worker only; use Redis")
        return self

    @property
    def store_url(self) -> str:
        return self.store.url or f"sqlite:///{(self.data_dir / 'docsight.db').resolve()}"

    @property
    def api_key_file(self) -> Path:
        """The first API key, written on the first start (mode 0600) for the CLI."""
        return self.data_dir / "api_key"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def broker_dir(self) -> Path:
        return self.data_dir / "broker"
