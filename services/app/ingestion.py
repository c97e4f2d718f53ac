"""DocumentIngestion: the two ingestion steps workers run, parse then index, and the re-sending
of documents whose step was lost.

Each step is idempotent and keyed by document id: a duplicate message (re-sent on start,
redelivered) changes nothing, and a document deleted meanwhile has nothing written back.
`DocumentService` (`services.app.documents`) builds on it: uploads queue the parse step.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import PurePath

from pipelines.chunking import page_starts
from pipelines.errors import InvalidDocument, NotFound, PagesPerMinuteExceeded
from pipelines.ingest import chunk_stage, index_texts, parse_stage
from pipelines.models import Chunk, Document, DocumentStatus
from pipelines.risks import detect_kind
from services.app.embed_batches import EmbedBatcher
from services.app.index_routes import UPSERT_POINTS, IndexRoutes
from services.app.ports import (
    BlobStore,
    DocumentQueue,
    DocumentStore,
    Embedder,
    ObligationExtraction,
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
__all__ = ["KIND_CHUNKS", "UPSERT_POINTS", "DocumentIngestion"]


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


class DocumentIngestion:
    """Parse and index a deployment's documents (the worker steps), within the tenant's pages
    per minute."""

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
        queue: DocumentQueue | None = None,
        pages: PageLedger | None = None,
        routes: IndexRoutes | None = None,
        obligations: ObligationExtraction | None = None,
    ) -> None:
        """`routes`: each tenant's embedder and collection (None: `embedder` and `index`
        for every tenant); `obligations`: reads a contract's key dates once it is indexed."""
        self.settings = settings
        self.store = store
        self.blobs = blobs
        self.parser = parser
        self.counter = counter
        self.embedder = embedder
        self.index = index
        self.queue = queue
        self.pages = pages
        self.obligations = obligations
        self.routes = routes or IndexRoutes.fixed(
            embedder,
            index,
            batch_size=settings.embedder.batch_size,
            wait_s=settings.embedder.batch_wait_s,
        )
        self.batches: EmbedBatcher = self.routes.current().batches

    def close(self) -> None:
        """Stop the embedding batches' threads (after the texts waiting for them)."""
        self.routes.close_batches()

    def _queue(self) -> DocumentQueue:
        if self.queue is None:
            raise RuntimeError("no task queue attached")
        return self.queue

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
        """Embed and index the stored chunks; read a contract's obligations; mark the
        document ready."""
        try:
            document = self.store.get_by_id(document_id)
        except NotFound:
            return
        if document.status is not S.INDEXING:
            log.info("index skipped: document %s is %s", document_id, document.status.value)
            return
        chunks = self.store.load_chunks(document_id)
        tenant = document.tenant
        try:
            # the chunks of several documents share embedding calls (EmbedBatcher)
            chunks, texts = index_texts(chunks, PurePath(document.filename).stem)
            progress = _throttled(
                lambda done, _total: self.store.update_document(document_id, chunks_embedded=done)
            )
            routes, written = self.routes.for_writes(tenant), set[str]()
            while routes:  # the tenant's collection; while it moves, the new one too
                for route in routes:  # progress counts the first collection's embedding
                    on_done = None if written else lambda n: progress(n, len(texts))
                    route.write(tenant, chunks, texts, on_done)
                    written.add(route.collection)
                # a move started meanwhile gets the document too (services.app.reindex)
                routes = [r for r in self.routes.for_writes(tenant) if r.collection not in written]
        except InvalidDocument as exc:  # a text the embedding server refuses, even cut
            self._fail(document_id, exc)
            return
        finally:  # points written after a delete (which removes the row first) go too
            if document_id not in self.store.existing_ids([document_id]):
                for route in self.routes.for_deletes(tenant):
                    route.index.delete_document(tenant, document_id)
        kind = detect_kind(chunks[:KIND_CHUNKS])
        self.store.set_kind(document_id, kind)
        noted = self._extract_obligations(document, kind, chunks)
        if not self.store.transition(
            document_id, [S.INDEXING], S.READY, chunks_embedded=len(chunks), **noted
        ):
            try:  # a duplicate task (re-sent on start, redelivered) finished it first
                self.store.get_by_id(document_id)
            except NotFound:  # deleted while indexing: leave no orphan points or rows behind
                for route in self.routes.for_deletes(tenant):
                    route.index.delete_document(tenant, document_id)
                self.store.delete_document(document_id)

    def _extract_obligations(
        self, document: Document, kind: str, chunks: list[Chunk]
    ) -> dict[str, list[str]]:
        """A contract's key dates and obligations, before it is ready; a failure is logged
        and noted in the document's warnings, and never fails the document."""
        if self.obligations is None or kind != "contract":
            return {}
        try:
            self.obligations.extract_document(document.tenant, document.id, chunks)
        except Exception as exc:
            log.exception("obligations of document %s not extracted", document.id)
            note = f"obligations not extracted: {type(exc).__name__}: {exc}"[:500]
            return {"warnings": [*document.warnings, note]}
        return {}

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
