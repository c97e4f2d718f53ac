"""Document use cases: upload, status, delete; the two ingestion steps workers run (parse,
index) come from `DocumentIngestion` (`services.app.ingestion`)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pipelines.errors import BackendUnavailable, Duplicate, NotFound
from pipelines.models import Document, DocumentStatus
from pipelines.portfolio import DocumentFacts
from pipelines.risks import detect_kind
from pipelines.uploads import check_upload
from services.app.index_routes import IndexRoutes
from services.app.ingestion import KIND_CHUNKS, DocumentIngestion
from services.app.ports import (
    AnalysisCache,
    BlobStore,
    DocumentQueue,
    DocumentStore,
    Embedder,
    Eraser,
    ObligationExtraction,
    PageCache,
    PageLedger,
    PdfParser,
    TokenCounter,
    VectorIndex,
)
from services.settings import Settings

S = DocumentStatus


@dataclass
class Upload:
    document: Document
    facts: DocumentFacts
    duplicate: bool


class DocumentService(DocumentIngestion):
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
        routes: IndexRoutes | None = None,
        page_cache: PageCache | None = None,
        obligations: ObligationExtraction | None = None,
    ) -> None:
        super().__init__(
            settings=settings,
            store=store,
            blobs=blobs,
            parser=parser,
            counter=counter,
            embedder=embedder,
            index=index,
            queue=queue,
            pages=pages,
            routes=routes,
            obligations=obligations,
        )
        self.eraser = eraser
        self.cache = cache  # None: the store's database holds the analysis cache
        self.page_cache = page_cache  # rendered pages and OCR boxes (services/app/highlights)

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
        self.routes.place_new(tenant, lambda: bool(self.store.count_by_status(tenant)))
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
        for route in self.routes.for_deletes(tenant):  # two collections while moving
            route.index.delete_document(tenant, document_id)
        self.blobs.delete(document_id)
        if self.page_cache is not None:
            self.page_cache.forget(document_id)
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


def _display_name(filename: str) -> str:
    """Keep the client's file name for display only: no path parts, bounded length."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip() or "upload.pdf"
    return "".join(ch for ch in name if ch.isprintable())[:255]
