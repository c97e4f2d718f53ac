"""Domain values passed between stages."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from pipelines.errors import DocumentNotReady


class Table(BaseModel):
    """A table found on a page, kept as rows of cells with its caption."""

    caption: str | None = None
    rows: list[list[str]]


class Page(BaseModel):
    """One page of text in reading order. `number` is 1-based."""

    number: int
    text: str
    tables: list[Table] = Field(default_factory=list)
    ocr: bool = False


class ParsedDocument(BaseModel):
    pages: list[Page]
    warnings: list[str] = Field(default_factory=list)

    @property
    def page_count(self) -> int:
        return len(self.pages)


class Chunk(BaseModel):
    """A retrievable span of a document.

    `char_start`/`char_end` index the document text as built by
    `pipelines.chunking.document_text` (pages joined with a blank line).
    """

    document_id: str
    number: int
    text: str
    page_start: int
    page_end: int
    section_path: list[str] = Field(default_factory=list)
    char_start: int
    char_end: int
    token_count: int
    context: str = ""
    """Contextual header (title, section path, a table's caption and header row) set when
    the chunk is indexed (`pipelines.ingest.contextualise`); embedded and scored with the
    text, never shown as it. Kept in the index payload, not in the store."""


class SparseVector(BaseModel):
    """Term-hash indices with BM25-style term weights; the index applies IDF."""

    indices: list[int]
    values: list[float]


class IndexedChunk(BaseModel):
    """A chunk ready for the vector index."""

    tenant: str
    chunk: Chunk
    dense: list[float]
    sparse: SparseVector


class ScoredChunk(BaseModel):
    chunk: Chunk
    score: float


class DocumentStatus(StrEnum):
    QUEUED = "queued"
    PARSING = "parsing"
    INDEXING = "indexing"
    READY = "ready"
    FAILED = "failed"


class Document(BaseModel):
    """A document row of the metadata store."""

    id: str
    tenant: str
    filename: str
    sha256: str
    size_bytes: int
    status: DocumentStatus = DocumentStatus.QUEUED
    error_code: str | None = None
    reason: str | None = None
    pages_total: int | None = None
    pages_parsed: int = 0
    ocr_pages: int = 0
    chunks_total: int | None = None
    chunks_embedded: int = 0
    warnings: list[str] = Field(default_factory=list)  # the parser's, once parsed

    def require_ready(self, purpose: str = "") -> Document:
        """This document when it is ready; else `DocumentNotReady` naming its status, its
        failure's reason and `purpose` ("a diff needs both documents ready")."""
        if self.status is DocumentStatus.READY:
            return self
        detail = f": {self.reason}" if self.reason else ""
        needs = f"; {purpose}" if purpose else ""
        raise DocumentNotReady(f"document {self.id} is {self.status.value}{detail}{needs}")


class ChatMessage(BaseModel):
    """One message of a chat prompt."""

    role: Literal["system", "user", "assistant"]
    content: str


class Completion(BaseModel):
    """A chat model's reply with its reasoning removed, and the tokens it cost.

    `cached_prompt_tokens` is None when the server does not report prefix-cache hits.
    `reasoning_dropped` says the server sent reasoning text, which was discarded.
    """

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int | None = None
    finish_reason: str | None = None
    reasoning_dropped: bool = False


class LlmUsage(BaseModel):
    """Running totals of a chat model's requests (retries and repairs included)."""

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"
    """The LLM (or another backend) was unreachable: the job is retried with backoff."""
    DONE = "done"
    FAILED = "failed"


ACTIVE_JOB_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.WAITING)

JobKind = Literal["summary", "risks"]


class Job(BaseModel):
    """A long analysis of one document, run by a worker; its row is the truth about it."""

    id: str
    tenant: str
    kind: JobKind
    document_id: str
    refresh: bool = False
    status: JobStatus = JobStatus.QUEUED
    attempts: int = 0
    error_code: str | None = None
    reason: str | None = None
    result: str | None = None
    """The result's JSON once `done` (a SummaryResult or RisksResult of the service)."""
    steps_done: int | None = None
    """Model requests finished of `steps_total` (None before the job's pipeline reports;
    steps kept from an earlier attempt count as done at once)."""
    steps_total: int | None = None
    step: str | None = None
    """What runs now, in words ("summarising part 2/4")."""
    created_at: datetime
    updated_at: datetime
