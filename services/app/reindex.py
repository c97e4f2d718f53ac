"""ReindexService: a tenant moved to another embedder's collection while search goes on.

`start(tenant)` marks the tenant moving to the configured embedder's collection and sends
the move to a worker; `run(tenant)` (the worker step) embeds each ready document's stored
chunks into the new collection (no re-parse), then switches the tenant's searches to it in
one store update, then deletes the tenant's points from the old collection. Until the
switch, search answers from the old collection; meanwhile uploads and deletes go to both
(`IndexRoutes.for_writes`, `for_deletes`).

The tenant's row is the truth: a move is idempotent (a document already whole in the new
collection is skipped) and resumed from the rows on start and by the sweep. A failure
leaves the tenant on its old collection, the error recorded; `start` tries again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import PurePath

from pipelines.ingest import index_texts
from pipelines.models import Document, DocumentStatus
from services.app.index_routes import IndexRoutes, Route
from services.app.ports import (
    AnalysisStore,
    EmbedderSpec,
    IndexCatalog,
    ReindexQueue,
    TenantIndex,
)

log = logging.getLogger(__name__)

UNDER_WAY = ("moving", "cleaning")


@dataclass(frozen=True)
class ReindexState:
    """Where a tenant's index stands. state: "none" (never moved: on the first
    collection), "moving", "cleaning", "done" or "failed"."""

    tenant: str
    state: str
    collection: str
    embedder: EmbedderSpec | None
    target: str | None
    target_embedder: EmbedderSpec | None
    current: str
    current_embedder: EmbedderSpec
    documents_done: int = 0
    documents_total: int = 0
    error_code: str | None = None
    reason: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def up_to_date(self) -> bool:
        """On the configured embedder's collection, no move under way."""
        return self.collection == self.current and self.state not in UNDER_WAY


class ReindexService:
    """Move tenants to the configured embedder's collection (`docsight reindex`)."""

    def __init__(
        self,
        *,
        store: AnalysisStore,
        catalog: IndexCatalog,
        routes: IndexRoutes,
        queue: ReindexQueue | None = None,
    ) -> None:
        self.store, self.catalog, self.routes, self.queue = store, catalog, routes, queue

    def state(self, tenant: str) -> ReindexState:
        row = self.catalog.tenant(tenant) or TenantIndex(tenant, self.routes.first, "none")
        return ReindexState(
            tenant=tenant,
            state=row.state,
            collection=row.collection,
            embedder=self.routes.spec_of(row.collection),
            target=row.target,
            target_embedder=self.routes.spec_of(row.target) if row.target else None,
            current=self.routes.current_collection,
            current_embedder=self.routes.spec,
            documents_done=row.documents_done,
            documents_total=row.documents_total,
            error_code=row.error_code,
            reason=row.reason,
            started_at=row.started_at,
            finished_at=row.finished_at,
        )

    def start(self, tenant: str) -> ReindexState:
        """Move the tenant to the configured embedder's collection: a move under way is
        sent again; a tenant already there is left alone."""
        row = self.catalog.tenant(tenant)
        if row is None or row.state not in UNDER_WAY:
            active = self.routes.first if row is None else row.collection
            target = self.routes.current_collection
            if active == target:
                return self.state(tenant)
            self.routes.current()  # the collection exists before writes go to it
            self.catalog.start_move(tenant, active, target)
        self._send(tenant)
        return self.state(tenant)

    def _send(self, tenant: str) -> None:
        if self.queue is None:
            raise RuntimeError("no task queue attached")
        self.queue.enqueue_reindex(tenant)

    def resend_stuck(self, idle_for_s: float) -> int:
        """Send again the moves whose row has not changed for `idle_for_s` (message lost)."""
        return self._resend(datetime.now(UTC) - timedelta(seconds=idle_for_s))

    def resume_unfinished(self) -> int:
        """Send again every move under way (on start: a stopped worker's)."""
        return self._resend(None)

    def _resend(self, idle_since: datetime | None) -> int:
        tenants = self.catalog.unfinished(idle_since)
        for tenant in tenants:
            self._send(tenant)
        return len(tenants)

    # --- the worker step (idempotent, keyed by tenant) ---------------------------------

    def run(self, tenant: str) -> None:
        """Copy, switch, clean; a failure before the switch is recorded on the row."""
        row = self.catalog.tenant(tenant)
        if row is None or row.state not in UNDER_WAY:
            return
        if row.state == "moving" and row.target is not None:
            target = row.target
            try:
                if not self._copy_all(tenant, self.routes.route(target)):
                    return  # no longer moving there (finished by a duplicate)
            except Exception as exc:  # noqa: BLE001 - recorded: the tenant stays where it is
                log.warning("reindex of tenant %s failed: %s", tenant, exc)
                self.catalog.fail(tenant, target, getattr(exc, "code", "error"), str(exc))
                return
            if not self.catalog.flip(tenant, target):
                return
            log.info("tenant %s now searches collection %s", tenant, target)
        self._clean(tenant)

    def _copy_all(self, tenant: str, target: Route) -> bool:
        """Every ready document into `target`, those that became ready meanwhile too."""
        done: set[str] = set()
        while True:
            todo = [d for d in self._ready(tenant) if d.id not in done]
            if not todo:
                return True
            total = len(done) + len(todo)
            for document in todo:
                self._copy(document, target)
                done.add(document.id)
                if not self.catalog.progress(tenant, target.collection, len(done), total):
                    return False

    def _ready(self, tenant: str) -> list[Document]:
        return self.store.list_documents(tenant, DocumentStatus.READY)

    def _copy(self, document: Document, target: Route) -> None:
        tenant = document.tenant
        if target.index.count(tenant=tenant, document_id=document.id) >= document.chunks_embedded:
            return  # whole already (a resumed move, or written by its upload)
        chunks, texts = index_texts(
            self.store.load_chunks(document.id), PurePath(document.filename).stem
        )
        try:
            target.write(tenant, chunks, texts)
        finally:  # deleted meanwhile (its row goes first): no points left behind
            if document.id not in self.store.existing_ids([document.id]):
                target.index.delete_document(tenant, document.id)

    def _clean(self, tenant: str) -> None:
        """After the switch: documents that became ready in the last moment are copied,
        then the tenant's points leave the collection it moved from."""
        row = self.catalog.tenant(tenant)
        if row is None or row.state != "cleaning":
            return
        route = self.routes.route(row.collection)
        for document in self._ready(tenant):
            self._copy(document, route)
        if row.previous and row.previous != row.collection:
            old = self.routes.route(row.previous)
            for document in self.store.list_documents(tenant):
                old.index.delete_document(tenant, document.id)
        self.catalog.cleaned(tenant)
