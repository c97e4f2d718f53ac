"""The ports of the use cases, in one place: what services/app needs of the world outside.

The domain's ports (`pipelines.ports`) are re-exported here, so a use case imports every
port it depends on from this module. Adapters (services/adapters) implement the stores,
the caches and the ledgers; workers/ implements the task queue; the composition root
(services/runtime/composition.py) chooses the implementations and passes them in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from prometheus_client import CollectorRegistry

from pipelines.comparison_models import ComparisonRecord
from pipelines.context import Budget
from pipelines.highlight_match import PageGlyphs
from pipelines.models import Chunk, Document, DocumentStatus, Job, JobStatus
from pipelines.portfolio import DocumentFacts, DocumentFilter
from pipelines.ports import (
    BlobStore,
    ChatModel,
    ChunkSource,
    Embedder,
    PdfParser,
    Progress,
    Reranker,
    Store,
    TokenCounter,
    VectorIndex,
)
from pipelines.report_models import Report, ReportRecord

__all__ = [
    "AnalysisCache",
    "AnalysisStore",
    "ApiKey",
    "BlobStore",
    "ChatModel",
    "ChunkSource",
    "ComparisonQueue",
    "ComparisonStore",
    "DocumentQueue",
    "DocumentStore",
    "DocumentVersions",
    "Embedder",
    "EmbedderSpec",
    "Eraser",
    "IndexCatalog",
    "JobQueue",
    "JobStore",
    "KeyStore",
    "Limiter",
    "LlmSource",
    "PageCache",
    "PageGeometry",
    "PageLedger",
    "PdfParser",
    "Progress",
    "Reranker",
    "ReindexQueue",
    "ReportDocuments",
    "ReportQueue",
    "ReportStore",
    "SearchStore",
    "Store",
    "TaskMetrics",
    "TaskQueue",
    "TenantIndex",
    "TokenCounter",
    "VectorIndex",
]


# --- the task queue (workers/queue.py) ------------------------------------------------


class DocumentQueue(Protocol):
    def enqueue_parse(self, document_id: str) -> None: ...

    def enqueue_index(self, document_id: str) -> None: ...

    def enqueue_parse_later(self, document_id: str, delay_s: float) -> None: ...


class JobQueue(Protocol):
    def enqueue_analysis(self, job_id: str) -> None: ...


class ReportQueue(Protocol):
    def enqueue_report(
        self, tenant: str, day: date, *, resume: bool = False, refresh: bool = False
    ) -> None:
        """`refresh`: one step of a running build, which does not re-schedule itself."""


class ReindexQueue(Protocol):
    def enqueue_reindex(self, tenant: str) -> None: ...


class ComparisonQueue(Protocol):
    def enqueue_comparison(self, comparison_id: str) -> None: ...


class TaskQueue(DocumentQueue, JobQueue, ReportQueue, ReindexQueue, ComparisonQueue, Protocol):
    """Every message the use cases send to the workers."""


class TaskMetrics(Protocol):
    """Where the workers record task run times (`services.runtime.metrics.ServiceMetrics`)."""

    registry: CollectorRegistry

    def observe_task(self, task: str, seconds: float, state: str) -> None: ...


# --- documents ------------------------------------------------------------------------


class DocumentStore(Store, Protocol):
    """The store with the kind and metadata of documents (`SqlStore`)."""

    def add_document(
        self,
        document: Document,
        password: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> Document: ...

    def set_kind(self, document_id: str, kind: str) -> None: ...

    def set_metadata(self, document_id: str, values: Mapping[str, str]) -> None: ...

    def ready_without_kind(self) -> list[str]: ...

    def describe_documents(
        self,
        tenant: str,
        *,
        document_ids: Sequence[str] | None = None,
        status: DocumentStatus | None = None,
    ) -> list[tuple[Document, DocumentFacts]]: ...

    def get_chunks(self, document_id: str, numbers: Sequence[int]) -> list[Chunk]: ...

    def existing_ids(self, document_ids: Sequence[str]) -> set[str]: ...

    def count_by_status(self, tenant: str | None = None) -> dict[str, int]: ...


class PageLedger(Protocol):
    """Pages parsed per tenant (services/adapters/page_usage.py)."""

    def record(self, tenant: str, document_id: str, pages: int) -> None: ...

    def used_since(self, tenant: str, since: datetime) -> tuple[int, datetime | None]: ...


class Eraser(Protocol):
    """A deleted document's rows, erased in steps that survive a restart (`SqlEraser`)."""

    def erase_rows(self, tenant: str, document_id: str) -> None: ...

    def pending(self, tenant: str | None = None) -> list[tuple[str, str]]: ...

    def finish(self, document_id: str) -> None: ...


class DocumentVersions(Protocol):
    """Which document is the new version of which (`SqlDocumentVersions`)."""

    def link(self, tenant: str, document_id: str, previous_id: str) -> None:
        """`NotFound` when either document is gone; `Duplicate` for a cycle."""

    def previous_of(self, tenant: str, document_id: str) -> str | None: ...

    def chain(self, tenant: str, document_id: str) -> list[str]:
        """The versions the document belongs to, oldest first (itself included)."""


class SearchStore(ChunkSource, Protocol):
    """What the search needs of the metadata store (`SqlStore`)."""

    def matching_documents(self, tenant: str, where: DocumentFilter) -> dict[str, bool]: ...

    def describe_documents(
        self,
        tenant: str,
        *,
        document_ids: Sequence[str] | None = None,
        status: DocumentStatus | None = None,
    ) -> list[tuple[Document, DocumentFacts]]: ...


# --- analysis -------------------------------------------------------------------------


class AnalysisCache(Protocol):
    """Key -> JSON text. Errors of the backend surface as `BackendUnavailable`."""

    def get(self, key: str) -> str | None: ...

    def put(
        self,
        key: str,
        value: str,
        *,
        kind: str,
        tenant: str,
        document_id: str | None = None,
        document_ids: Sequence[str] = (),
    ) -> None:
        """`document_id`: the entry's document; `document_ids`: those it cites (answers)."""

    def forget_document(self, document_id: str) -> int:
        """Remove the entries of the document and those citing it."""

    def purge(self, tenant: str | None = None) -> int: ...


class AnalysisStore(SearchStore, Protocol):
    """What the analyses read of the metadata store (`SqlStore`)."""

    def get_document(self, tenant: str, document_id: str) -> Document: ...

    def list_documents(
        self, tenant: str, status: DocumentStatus | None = None
    ) -> list[Document]: ...

    def load_chunks(self, document_id: str) -> list[Chunk]: ...

    def load_page_starts(self, document_id: str) -> list[int] | None: ...

    def existing_ids(self, document_ids: Sequence[str]) -> set[str]: ...


class LlmSource(Protocol):
    """What the analyses need of `services.runtime.llm.LlmHandle`."""

    budget: Budget

    def require(self) -> ChatModel: ...


# --- jobs and reports -----------------------------------------------------------------


class JobStore(Protocol):
    """Analysis jobs' rows (`SqlJobStore`)."""

    def add(self, job: Job) -> Job: ...

    def get(self, tenant: str, job_id: str) -> Job: ...

    def find(self, job_id: str) -> Job | None: ...

    def find_active(self, tenant: str, kind: str, document_id: str) -> Job | None: ...

    def unfinished(self, idle_since: datetime | None = None) -> list[Job]: ...

    def transition(
        self, job_id: str, from_status: Sequence[JobStatus], to_status: JobStatus, **fields: Any
    ) -> bool: ...

    def progress(self, job_id: str, done: int, total: int, step: str) -> bool: ...

    def list(self, tenant: str, status: JobStatus | None = None, limit: int = 100) -> list[Job]: ...


class ComparisonStore(Protocol):
    """Comparison tables' rows (`SqlComparisonStore`)."""

    def add(self, record: ComparisonRecord) -> ComparisonRecord: ...

    def get(self, tenant: str, comparison_id: str) -> ComparisonRecord: ...

    def find(self, comparison_id: str) -> ComparisonRecord | None: ...

    def find_active(
        self, tenant: str, document_ids: Sequence[str], columns: Sequence[str], use_model: bool
    ) -> ComparisonRecord | None: ...

    def unfinished(self, idle_since: datetime | None = None) -> list[ComparisonRecord]: ...

    def transition(
        self,
        comparison_id: str,
        from_status: Sequence[JobStatus],
        to_status: JobStatus,
        **fields: Any,
    ) -> bool: ...

    def progress(self, comparison_id: str, done: int, total: int, step: str) -> bool: ...

    def list(self, tenant: str, limit: int = 100) -> list[ComparisonRecord]: ...


class ReportStore(Protocol):
    """Daily reports' rows (`SqlReportStore`)."""

    def start(self, tenant: str, day: date) -> tuple[ReportRecord, bool]: ...

    def touch(
        self, tenant: str, day: date, reason: str | None = None, report: Report | None = None
    ) -> None: ...

    def building_of(self, tenant: str) -> list[date]: ...

    def finish(self, tenant: str, day: date, report: Report) -> bool: ...

    def fail(self, tenant: str, day: date, code: str, reason: str) -> bool: ...

    def get(self, tenant: str, day: date) -> ReportRecord | None: ...

    def list_reports(self, tenant: str, limit: int = 100) -> list[ReportRecord]: ...

    def building(self) -> list[ReportRecord]: ...

    def latest_jobs(
        self, tenant: str, document_ids: Sequence[str]
    ) -> dict[tuple[str, str], Job]: ...


class ReportDocuments(Protocol):
    """What the reports read of the metadata store (`SqlStore`)."""

    def tenants(self) -> list[str]: ...

    def documents_created_between(
        self, tenant: str, start: datetime, end: datetime
    ) -> list[Document]: ...

    def load_chunks(self, document_id: str) -> list[Chunk]: ...


# --- API keys -------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiKey:
    id: str
    tenant: str
    name: str
    key_hash: str
    created_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


class KeyStore(Protocol):
    """API keys' rows (`SqlApiKeyStore`)."""

    def add(self, key: ApiKey) -> ApiKey: ...

    def find_by_hash(self, key_hash: str) -> ApiKey | None: ...

    def get(self, key_id: str) -> ApiKey | None: ...

    def list(self, tenant: str | None = None) -> list[ApiKey]: ...

    def count(self) -> int: ...

    def revoke(self, key_id: str, when: datetime) -> bool: ...

    def touch(self, key_id: str, when: datetime) -> None: ...


class Limiter(Protocol):
    """Spends one request of a key: `RateLimited` when none is left."""

    def take(self, key_id: str) -> None: ...


# --- index collections per embedder (services/adapters/index_catalog.py) --------------


@dataclass(frozen=True)
class EmbedderSpec:
    """What an embedder is, enough to load it again: its vectors are the same for the same
    kind, model and dimension (`identity`); `url` and `query_prefix` say how to call it."""

    kind: str
    model: str | None
    dimension: int
    url: str | None = None
    query_prefix: str | None = None

    @property
    def identity(self) -> tuple[str, str | None, int]:
        return (self.kind, self.model, self.dimension)


@dataclass(frozen=True)
class TenantIndex:
    """The collection a tenant searches (and writes), and its move to `target`, if any.
    state: "moving" (writes go to both), "cleaning" (moved; the points left in `previous`
    are being deleted), "done", "failed" (still on `collection`; `reason` says why)."""

    tenant: str
    collection: str
    state: str
    target: str | None = None
    previous: str | None = None
    documents_done: int = 0
    documents_total: int = 0
    error_code: str | None = None
    reason: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    updated_at: datetime | None = None


class IndexCatalog(Protocol):
    """Each collection's embedder and each tenant's collection (`SqlIndexCatalog`)."""

    def register(self, name: str, spec: EmbedderSpec) -> EmbedderSpec:
        """Record the collection's embedder unless recorded; the recorded one."""

    def spec_of(self, name: str) -> EmbedderSpec | None: ...

    def collections(self) -> dict[str, EmbedderSpec]: ...

    def tenant(self, tenant: str) -> TenantIndex | None: ...

    def place(self, tenant: str, collection: str) -> None:
        """Put a tenant without a row on `collection` (a row there already stays)."""

    def start_move(self, tenant: str, collection: str, target: str) -> TenantIndex:
        """Mark the tenant moving to `target` (a tenant without a row is on `collection`)."""

    def progress(self, tenant: str, target: str, done: int, total: int) -> bool:
        """False when the tenant is no longer moving to `target`."""

    def flip(self, tenant: str, target: str) -> bool:
        """In one update: search `target`, state "cleaning", `previous` the old one."""

    def cleaned(self, tenant: str) -> bool: ...

    def fail(self, tenant: str, target: str, code: str, reason: str) -> bool: ...

    def unfinished(self, idle_since: datetime | None = None) -> list[str]:
        """Tenants moving or cleaning (and idle since `idle_since`, when given)."""


# --- page geometry and images (services/adapters/pdf_geometry.py, page_cache.py) ------


class PageGeometry(Protocol):
    """Character boxes and rendered images of a PDF's pages (native code in a child)."""

    def glyphs(
        self, data: bytes, password: str | None, pages: list[int]
    ) -> dict[int, PageGlyphs]: ...

    def render_png(self, data: bytes, password: str | None, page: int, width: int) -> bytes: ...


class PageCache(Protocol):
    """Files derived from a document's pages (PNG renders, OCR boxes), by name."""

    def read(self, name: str) -> bytes | None: ...

    def write(self, name: str, data: bytes) -> None: ...

    def forget(self, document_id: str) -> None:
        """Remove every file of the document (it was deleted)."""
        ...


# --- key dates and obligations (services/adapters/obligations.py) ---------------------


@dataclass(frozen=True)
class Obligation:
    """A key date or obligation read from a contract (a row of `obligations`): `quote` is
    the document text at `char_start:char_end`; `due_date` None when the text gives a rule
    only (`rule` says which)."""

    id: str
    tenant: str
    document_id: str
    kind: str
    party: str | None
    due_date: date | None
    rule: str | None
    quote: str
    page: int | None
    page_end: int | None
    char_start: int | None
    char_end: int | None
    verified: bool
    method: str
    created_at: datetime
    filename: str = ""
    """The document's file name, filled when listed."""


@dataclass(frozen=True)
class CalendarFeed:
    """A read-only token of a tenant's iCalendar feed (only its SHA-256 is kept)."""

    id: str
    tenant: str
    name: str
    token_hash: str
    created_at: datetime
    revoked_at: datetime | None = None


class ObligationStore(Protocol):
    """Obligations' and calendar feeds' rows (`SqlObligationStore`)."""

    def replace(self, tenant: str, document_id: str, rows: Sequence[Obligation]) -> bool:
        """Replace the document's rows; False (nothing written) for a deleted document."""

    def find(
        self,
        tenant: str,
        *,
        due_before: date | None = None,
        due_after: date | None = None,
        document_id: str | None = None,
        kind: str | None = None,
    ) -> list[Obligation]: ...

    def passed(
        self, kinds: Sequence[str], *, before: date, read_before: datetime
    ) -> list[tuple[str, str]]:
        """(tenant, document) with a row of `kinds` due before `before`, written before
        `read_before`."""

    def add_feed(self, feed: CalendarFeed) -> CalendarFeed: ...

    def feed_by_hash(self, token_hash: str) -> CalendarFeed | None: ...

    def feeds(self, tenant: str) -> list[CalendarFeed]: ...

    def revoke_feed(self, tenant: str, feed_id: str, when: datetime) -> bool: ...


class ObligationExtraction(Protocol):
    """What the index step calls once a contract is indexed (`ObligationService`)."""

    def extract_document(
        self, tenant: str, document_id: str, chunks: Sequence[Chunk] | None = None
    ) -> int: ...
