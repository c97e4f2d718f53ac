"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, Field

from pipelines.answer_models import NotFoundCheck
from pipelines.evidence import Evidence
from pipelines.extract import Extracted
from pipelines.models import Document, DocumentStatus, Job, JobKind, JobStatus
from pipelines.portfolio import MAX_DOCUMENT_IDS, DocumentFacts, DocumentFilter, Metadata
from pipelines.risk_taxonomy import DocumentKind
from services.app.analysis import RisksResult, SummaryResult
from services.app.jobs import result_of
from services.app.search import GroupBy, Hit


def _aware(value: datetime) -> datetime:
    """Times are stored in UTC; a store that drops the offset (SQLite) gets it back here, so
    responses carry RFC 3339 `date-time` values as the schema says."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


UtcDatetime = Annotated[datetime, AfterValidator(_aware)]


class Progress(BaseModel):
    pages_parsed: int
    pages_total: int | None
    ocr_pages: int
    chunks_embedded: int
    chunks_total: int | None


class DocumentOut(BaseModel):
    id: str
    filename: str
    sha256: str
    size_bytes: int
    status: DocumentStatus
    error_code: str | None = None
    reason: str | None = None
    progress: Progress
    kind: DocumentKind | None = Field(
        default=None, description="contract or annual_report; known once indexed"
    )
    metadata: dict[str, str] = Field(default_factory=dict, description="given at upload")
    created_at: UtcDatetime | None = Field(default=None, description="upload time")
    warnings: list[str] = Field(default_factory=list, description="the parser's, once parsed")
    previous_id: str | None = Field(
        default=None, description="the document this one is the new version of, if any"
    )

    @classmethod
    def of(cls, document: Document, facts: DocumentFacts | None = None) -> DocumentOut:
        facts = facts or DocumentFacts()
        return cls(
            previous_id=facts.previous_id,
            kind=facts.kind,
            metadata=facts.metadata,
            created_at=facts.created_at,
            id=document.id,
            filename=document.filename,
            sha256=document.sha256,
            size_bytes=document.size_bytes,
            status=document.status,
            error_code=document.error_code,
            reason=document.reason,
            warnings=document.warnings,
            progress=Progress(
                pages_parsed=document.pages_parsed,
                pages_total=document.pages_total,
                ocr_pages=document.ocr_pages,
                chunks_embedded=document.chunks_embedded,
                chunks_total=document.chunks_total,
            ),
        )


class Accepted(BaseModel):
    document: DocumentOut
    duplicate: bool = Field(description="the same file was uploaded before: nothing is re-indexed")


class Rejected(BaseModel):
    filename: str
    error_code: str
    reason: str
    status_code: int


class UploadOut(BaseModel):
    accepted: list[Accepted]
    rejected: list[Rejected]


class DocumentList(BaseModel):
    documents: list[DocumentOut]


def _once(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))


DocumentIds = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=64)]],
    Field(
        max_length=MAX_DOCUMENT_IDS,
        description=f"only these documents (at most {MAX_DOCUMENT_IDS}; repeats ignored; "
        "an unknown id is a 404)",
    ),
    AfterValidator(_once),
]
"""Every list of document ids in a request: bounded, each id bounded, repeats dropped."""


class SearchIn(BaseModel):
    query: str = Field(min_length=1, max_length=2000)
    document_ids: DocumentIds | None = None
    limit: int = Field(default=10, ge=1, le=100, description="passages, or documents")
    group_by: GroupBy = Field(
        default="chunk",
        description="chunk: the best passages; document: the best documents, each with "
        "its best passage",
    )
    kind: DocumentKind | None = None
    uploaded_after: AwareDatetime | None = Field(default=None, description="inclusive")
    uploaded_before: AwareDatetime | None = Field(default=None, description="exclusive")
    metadata: Metadata | None = Field(
        default=None, description="documents whose metadata has every one of these values"
    )

    def where(self) -> DocumentFilter:
        return DocumentFilter(
            document_ids=self.document_ids,
            kind=self.kind,
            uploaded_after=self.uploaded_after,
            uploaded_before=self.uploaded_before,
            metadata=self.metadata or {},
        )


class SearchHit(BaseModel):
    """A passage: the matched clause, with its pages and offsets in the document's text."""

    document_id: str
    filename: str
    kind: DocumentKind | None
    chunk_number: int
    page_start: int
    page_end: int
    section_path: list[str]
    char_start: int
    char_end: int
    text: str
    score: float

    @classmethod
    def of(cls, hit: Hit) -> SearchHit:
        chunk = hit.passage.chunk
        return cls(
            document_id=chunk.document_id,
            filename=hit.document.filename,
            kind=hit.facts.kind,
            chunk_number=chunk.number,
            page_start=chunk.page_start,
            page_end=chunk.page_end,
            section_path=chunk.section_path,
            char_start=chunk.char_start,
            char_end=chunk.char_end,
            text=chunk.text,
            score=hit.passage.score,
        )


class SearchOut(BaseModel):
    group_by: GroupBy = "chunk"
    hits: list[SearchHit] = Field(
        description="best first; with group_by document, one per document (its best passage)"
    )


class ComponentStatus(BaseModel):
    ok: bool
    detail: str


class Readiness(BaseModel):
    ready: bool
    components: dict[str, ComponentStatus]


class QuestionIn(BaseModel):
    question: str = Field(min_length=1, max_length=2000)
    document_ids: DocumentIds | None = None
    stream: bool = False
    thinking: bool = False


class CitationOut(BaseModel):
    marker: str
    document_id: str
    page_start: int
    page_end: int
    chunk_numbers: list[int]


class AnswerOut(BaseModel):
    answer: str
    found: bool
    grounded: bool = Field(
        description="found and backed by at least one citation that maps to a real passage"
    )
    citations: list[CitationOut]
    evidence: list[Evidence] = Field(
        default_factory=list,
        description="the passages the model was given, or the best ones retrieval found, "
        "best first: document, file name, pages, section, excerpt, offsets, score",
    )
    extracted: list[Extracted] = Field(
        default_factory=list,
        description="values read without the model (governing law, agreement and effective "
        "date) when the question asks for them, each with its located quote",
    )
    not_found_checked: NotFoundCheck | None = Field(
        default=None,
        description="when not found: absent (no passage looks relevant) or "
        "model_could_not_answer (the best passages look relevant: read them)",
    )
    model: str
    cached: bool


class JobOut(BaseModel):
    """An analysis job; `result` once `done` (a summary or a risk report)."""

    id: str
    kind: JobKind
    document_id: str
    status: JobStatus
    attempts: int
    error_code: str | None = None
    reason: str | None = None
    steps_done: int | None = Field(
        default=None,
        description="model requests finished (of steps_total), steps kept "
        "from an earlier attempt included; null before the first",
    )
    steps_total: int | None = Field(
        default=None,
        description="model requests the job needs as far as known (it grows "
        "when a request that timed out is split)",
    )
    step: str | None = Field(default=None, description='what runs now, e.g. "summarising part 2/4"')
    created_at: UtcDatetime
    updated_at: UtcDatetime
    result: SummaryResult | RisksResult | None = None

    @classmethod
    def of(cls, job: Job, include_unverified: bool = False) -> JobOut:
        """The job as shown: a risk report's unverified findings only when asked for."""
        result = result_of(job)
        if isinstance(result, RisksResult):
            result = result.shown(include_unverified)
        return cls(
            result=result,
            **job.model_dump(
                include={
                    "id",
                    "kind",
                    "document_id",
                    "status",
                    "attempts",
                    "error_code",
                    "reason",
                    "steps_done",
                    "steps_total",
                    "step",
                    "created_at",
                    "updated_at",
                }
            ),
        )


class JobList(BaseModel):
    jobs: list[JobOut]
