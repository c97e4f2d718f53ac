"""/v1/reindex: the caller's tenant moved to the configured embedder's collection (`docsight
reindex`), and where that stands. Search keeps answering from the old collection until the
move switches it (services/app/reindex.py)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from services.api.deps import ContainerDep, TenantDep
from services.app.ports import EmbedderSpec
from services.app.reindex import ReindexState

router = APIRouter(prefix="/v1", tags=["documents"])


class EmbedderOut(BaseModel):
    kind: str
    model: str | None
    dimension: int
    url: str | None = None

    @classmethod
    def of(cls, spec: EmbedderSpec | None) -> EmbedderOut | None:
        if spec is None:
            return None
        return cls(kind=spec.kind, model=spec.model, dimension=spec.dimension, url=spec.url)


class CollectionOut(BaseModel):
    collection: str
    embedder: EmbedderOut | None


class ReindexDocuments(BaseModel):
    done: int
    total: int


class ReindexOut(BaseModel):
    """state: "none" (never moved), "moving" (search still on `active`; uploads go to both),
    "cleaning" (moved; the old collection's points are being deleted), "done", "failed"
    (still on `active`; `reason` says why). `up_to_date`: on `current`, nothing under way."""

    tenant: str
    state: str
    active: CollectionOut
    target: CollectionOut | None
    current: CollectionOut
    up_to_date: bool
    documents: ReindexDocuments
    error_code: str | None = None
    reason: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @classmethod
    def of(cls, state: ReindexState) -> ReindexOut:
        return cls(
            tenant=state.tenant,
            state=state.state,
            active=CollectionOut(
                collection=state.collection, embedder=EmbedderOut.of(state.embedder)
            ),
            target=None
            if state.target is None
            else CollectionOut(
                collection=state.target, embedder=EmbedderOut.of(state.target_embedder)
            ),
            current=CollectionOut(
                collection=state.current, embedder=EmbedderOut.of(state.current_embedder)
            ),
            up_to_date=state.up_to_date,
            documents=ReindexDocuments(done=state.documents_done, total=state.documents_total),
            error_code=state.error_code,
            reason=state.reason,
            started_at=state.started_at,
            finished_at=state.finished_at,
        )


@router.post("/reindex", status_code=202, response_model=ReindexOut)
def start_reindex(container: ContainerDep, tenant: TenantDep) -> ReindexOut:
    """Move the caller's documents to the configured embedder's collection: each ready
    document's stored chunks are embedded again (no re-parse), then search switches to the
    new collection at once. Search answers from the old one meanwhile. A move under way is
    sent again (idempotent); one already done changes nothing. Follow it with GET."""
    return ReindexOut.of(container.reindex.start(tenant))


@router.get("/reindex", response_model=ReindexOut)
def reindex_state(container: ContainerDep, tenant: TenantDep) -> ReindexOut:
    """The caller's collection and embedder, and its move to another: documents done of
    total, state, error."""
    return ReindexOut.of(container.reindex.state(tenant))
