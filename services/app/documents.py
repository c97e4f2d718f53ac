"""Document use cases: upload, status, delete, search, and the two ingestion steps workers run."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import PurePath

from pipelines.chunking import page_starts
from pipelines.errors import (
    BackendUnavailable,
    Duplicate,
    InvalidDocument,
    NotFound,
    PagesPerMinuteExceeded,
)
from pipelines.ingest import chunk_stage, embed_and_index_stage, parse_stage
from pipelines.models import Document, DocumentStatus
from pipelines.portfolio import DocumentFacts
from pipelines.risks import detect_kind
from pipelines.uploads import check_upload
from services.app.ports import (
    AnalysisCache,
    BlobStore,
    DocumentQueue,
    DocumentStore,
    Embedder,
    Eraser,
    PageLedger,
    PdfParser,
    TokenCounter,
    VectorIndex,
)
from services.settings import Settings

log = logging.getLogger(__name__)

S = DocumentStatus
KIND_CHUNKS = 8
"""A document's kind is read from its opening chunks (`pipelines.risks.detect_kind`)."""


@dataclass
class Upload:
    document: Document
    facts: DocumentFacts
    duplicate: bool


def _throttled(
    update: Callable[[int, int], None], every_s: float = 0.5
) -> Callable[[int, int], None]:
    """Progress callback that writes at most every `every_s` seconds, and always the last step."""
    last = 0.0

    def on_progress(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if done >= total or now - last >= every_s:
            last = now
            update(done, total)

    return on_progress


class DocumentService:
    def __init__(
        self,
        *,
        settings: Settings,
        store: DocumentStore,
        blobs: BlobStore,
        parser: PdfParser,
        counter: TokenCounter,
        embedder: Embedder,
        index: VectorIndex,
        eraser: Eraser,
        queue: DocumentQueue | None = None,
        pages: PageLedger | None = None,
        cache: AnalysisCache | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.blobs = blobs
        self.parser = parser
        self.counter = counter
        self.embedder = embedder
        self.index = index
        self.queue = queue
        self.pages = pages
        self.eraser = eraser
        self.cache = cache  # None: the store's database holds the analysis cache

    def _queue(self) -> DocumentQueue:
        if self.queue is None:
            raise RuntimeError("no task queue attached")
        return self.queue

    # --- API-facing use cases -------------------------------------------------------

    def upload(
        self,
        tenant: str,
        filename: str,
        data: bytes,
        password: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> Upload:
        """Check, store and queue one file. The same bytes twice give the same document;
        `metadata` (validated by the caller: `pipelines.portfolio.Metadata`), when given,
        replaces the document's."""
        max_bytes = int(self.settings.parser.max_upload_mb * 1024 * 1024)
        sha256 = check_upload(data, max_bytes=max_bytes)
        existing = self.store.find_by_sha256(tenant, sha256)
        if existing is not None:
            return self._again(tenant, existing, password, metadata)
        self.check_pages_per_minute(tenant)
        document = Document(
            id=str(uuid.uuid4()),
            tenant=tenant,
            filename=_display_name(filename),
            sha256=sha256,
            size_bytes=len(data),
        )
        # The file first, complete (written and renamed), then the row that makes it visible;
        # a row that cannot be added takes its file with it.
        self.blobs.put(document.id, data)
        try:
            self.store.add_document(document, password=password, metadata=metadata)
        except Duplicate:  # the same bytes uploaded at the same moment: one document
            self.blobs.delete(document.id)
            existing = self.store.find_by_sha256(tenant, sha256)
            if existing is None:
                raise
            return self._again(tenant, existing, password, metadata)
        except BaseException:
            self.blobs.delete(document.id)
            raise
        try:
            self._queue().enqueue_parse(document.id)
        except BackendUnavailable:  # no message, no document: the client retries the upload
            self.store.delete_document(document.id)
            self.blobs.delete(document.id)
            raise
        return Upload(*self.describe(tenant, document.id), duplicate=False)

    def _again(
        self,
        tenant: str,
        existing: Document,
        password: str | None,
        metadata: Mapping[str, str] | None,
    ) -> Upload:
        """The same bytes uploaded again: the same document (a failed one is retried)."""
        if metadata is not None:
            self.store.set_metadata(existing.id, metadata)
        if existing.status is S.FAILED and self.store.transition(
            existing.id, [S.FAILED], S.QUEUED, error_code=None, reason=None, password=password
        ):
            self._queue().enqueue_parse(existing.id)
        return Upload(*self.describe(tenant, existing.id), duplicate=True)

    def check_pages_per_minute(self, tenant: str) -> None:
        """Raise `PagesPerMinuteExceeded` while the tenant's documents parsed in the last
        minute reach `parser.pages_per_minute` (0: no limit).

        A document's pages are known only once parsed, so they are counted then: an upload is
        refused (429) while the last minute's pages are at the limit, and a document accepted
        before stays `queued` (re-sent after the wait) until the minute has room again. The
        document that crosses the limit is still parsed whole (one may exceed a limit smaller
        than its page count; concurrent parses may each start just under it)."""
        limit = self.settings.parser.pages_per_minute
        if not limit or self.pages is None:
            return
        now = datetime.now(UTC)
        used, oldest = self.pages.used_since(tenant, now - timedelta(minutes=1))
        if used >= limit:
            wait = 60.0 if oldest is None else max(1.0, 60 - (now - oldest).total_seconds())
            raise PagesPerMinuteExceeded(
                f"tenant {tenant!r} had {used} pages parsed in the last minute; the limit is "
                f"{limit} pages per minute (parser.pages_per_minute); retry in {wait:.0f} s",
                retry_after_s=wait,
            )

    def get(self, tenant: str, document_id: str) -> Document:
        return self.store.get_document(tenant, document_id)

    def list(self, tenant: str, status: DocumentStatus | None = None) -> list[Document]:
        return self.store.list_documents(tenant, status)

    def describe(self, tenant: str, document_id: str) -> tuple[Document, DocumentFacts]:
        """The document with its kind, metadata and upload time."""
        found = self.store.describe_documents(tenant, document_ids=[document_id])
        if not found:
            raise NotFound(f"no document {document_id}")
        return found[0]

    def list_described(
        self, tenant: str, status: DocumentStatus | None = None
    ) -> Sequence[tuple[Document, DocumentFacts]]:
        """The tenant's documents with their kind, metadata and upload time, oldest first."""
        return self.store.describe_documents(tenant, status=status)

    def delete(self, tenant: str, document_id: str) -> None:
        """Erase the document and everything derived from it: its rows, chunks, page
        offsets, analysis jobs, cached analyses and the answers citing it, its entries in
        daily reports (`services.adapters.erasure`), then its index points and its file.
        The row goes first: a task still running on the document writes nothing back. A
        delete cut short (a backend down) is finished by the next one or on start."""
        try:
            self.store.get_document(tenant, document_id)
        except NotFound:
            if (tenant, document_id) not in self.eraser.pending(tenant):
                raise
        self.eraser.erase_rows(tenant, document_id)
        self._finish_erasure(tenant, document_id)

    def _finish_erasure(self, tenant: str, document_id: str) -> None:
        if self.cache is not None:
            self.cache.forget_document(document_id)
        self.index.delete_document(tenant, document_id)
        self.blobs.delete(document_id)
        self.eraser.finish(document_id)

    def resume_unfinished(self) -> int:
        """Re-enqueue documents a stopped worker left unfinished; the store is the truth.
        Ready documents indexed before kinds were kept get theirs; deletes cut short are
        finished."""
        for tenant, document_id in self.eraser.pending():
            self._finish_erasure(tenant, document_id)
        for document_id in self.store.ready_without_kind():
            self.store.set_kind(
                document_id, detect_kind(self.store.get_chunks(document_id, range(KIND_CHUNKS)))
            )
        return self._resend(None)

    def resend_stuck(self, idle_for_s: float) -> int:
        """Re-enqueue unfinished documents whose row has not moved for `idle_for_s` (their
        message was lost); the steps are idempotent, a duplicate costs a repeat only."""
        return self._resend(datetime.now(UTC) - timedelta(seconds=idle_for_s))

    def _resend(self, idle_since: datetime | None) -> int:
        pending = self.store.unfinished_documents(idle_since)
        for document in pending:
            if document.status is S.INDEXING:
                self._queue().enqueue_index(document.id)
            else:
                self._queue().enqueue_parse(document.id)
        return len(pending)

    # --- worker steps (idempotent, keyed by document id) -----------------------------

    def run_parse(self, document_id: str) -> None:
        """Parse and chunk; on success queue indexing. Bad input fails this document only."""
        try:
            tenant = self.store.get_by_id(document_id).tenant
            self.check_pages_per_minute(tenant)
        except NotFound:
            return
        except PagesPerMinuteExceeded as exc:
            self.store.transition(
                document_id, [S.QUEUED], S.QUEUED, error_code=exc.code, reason=f"waiting: {exc}"
            )
            self._queue().enqueue_parse_later(document_id, exc.retry_after_s or 60.0)
            return
        if not self.store.transition(
            document_id, [S.QUEUED, S.PARSING], S.PARSING, error_code=None, reason=None
        ):
            if (
                document_id in self.store.existing_ids([document_id])
                and self.store.get_by_id(document_id).status is S.INDEXING
            ):
                # A retried parse that moved the document on and then failed (store or
                # broker down) may never have sent the index message; indexing is
                # idempotent, so send it again rather than strand the document.
                self._queue().enqueue_index(document_id)
            log.info("parse skipped: document %s is not queued", document_id)
            return
        try:
            data = self.blobs.get(document_id)
            password = self.store.password_for(document_id)
            parsed = parse_stage(
                self.parser,
                data,
                password=password,
                on_page=_throttled(
                    lambda done, total: self.store.update_document(
                        document_id, pages_parsed=done, pages_total=total
                    )
                ),
            )
            chunks = chunk_stage(
                document_id,
                parsed,
                self.counter,
                max_tokens=self.settings.chunking.max_tokens,
                overlap_tokens=self.settings.chunking.overlap_tokens,
            )
        except (InvalidDocument, NotFound) as exc:
            self._fail(document_id, exc)
            return
        # nothing is written for a document deleted while it was parsed
        self.store.save_chunks(document_id, chunks, page_starts(parsed.pages))
        moved = self.store.transition(
            document_id,
            [S.PARSING],
            S.INDEXING,
            pages_total=parsed.page_count,
            pages_parsed=parsed.page_count,
            ocr_pages=sum(page.ocr for page in parsed.pages),
            chunks_total=len(chunks),
            chunks_embedded=0,
            password=None,
            warnings=list(parsed.warnings),
        )
        if moved:
            if self.pages is not None:
                self.pages.record(tenant, document_id, parsed.page_count)
            self._queue().enqueue_index(document_id)

    def run_index(self, document_id: str) -> None:
        """Embed and index the stored chunks; mark the document ready."""
        try:
            document = self.store.get_by_id(document_id)
        except NotFound:
            return
        if document.status is not S.INDEXING:
            log.info("index skipped: document %s is %s", document_id, document.status.value)
            return
        chunks = self.store.load_chunks(document_id)
        try:
            embed_and_index_stage(
                document.tenant,
                chunks,
                self.embedder,
                self.index,
                batch_size=self.settings.embedder.batch_size,
                title=PurePath(document.filename).stem,
                on_chunks=_throttled(
                    lambda done, _total: self.store.update_document(
                        document_id, chunks_embedded=done
                    )
                ),
            )
        finally:  # points written after a delete (which removes the row first) go too
            if document_id not in self.store.existing_ids([document_id]):
                self.index.delete_document(document.tenant, document_id)
        self.store.set_kind(document_id, detect_kind(chunks[:KIND_CHUNKS]))
        if not self.store.transition(
            document_id, [S.INDEXING], S.READY, chunks_embedded=len(chunks)
        ):
            try:  # a duplicate task (re-sent on start, redelivered) finished it first
                self.store.get_by_id(document_id)
            except NotFound:  # deleted while indexing: leave no orphan points or rows behind
                self.index.delete_document(document.tenant, document_id)
                self.store.delete_document(document_id)

    def _fail(self, document_id: str, exc: Exception) -> None:
        code = getattr(exc, "code", "error")
        log.warning("document %s failed (%s): %s", document_id, code, exc)
        self.store.transition(
            document_id,
            [S.QUEUED, S.PARSING, S.INDEXING],
            S.FAILED,
            error_code=code,
            reason=str(exc),
            password=None,
        )


def _display_name(filename: str) -> str:
    """Keep the client's file name for display only: no path parts, bounded length."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip() or "upload.pdf"
    return "".join(ch for ch in name if ch.isprintable())[:255]
