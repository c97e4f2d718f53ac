"""/v1/search: passages of the caller's documents, filtered, by passage or by document."""

from __future__ import annotations

from fastapi import APIRouter

from services.api.deps import ContainerDep, TenantDep
from services.api.schemas import SearchHit, SearchIn, SearchOut
from services.app.search import search as search_portfolio

router = APIRouter(prefix="/v1", tags=["search"])


@router.post("/search", response_model=SearchOut, responses={404: {}})
def search(
    body: SearchIn,
    container: ContainerDep,
    tenant: TenantDep,
) -> SearchOut:
    """Passages ranked by hybrid (dense + keyword) relevance and the reranker, with their
    document, pages and section; `group_by: document` ranks documents by their best
    passage. Filters (kind, upload time, metadata, ids) select the ready documents first;
    a filter that matches none answers no hits."""
    route = container.routes.for_search(tenant)  # the tenant's embedder and collection
    hits = search_portfolio(
        body.query,
        tenant=tenant,
        where=body.where(),
        store=container.store,
        embedder=route.embedder,
        index=route.index,
        reranker=container.reranker,
        limit=body.limit,
        group_by=body.group_by,
        candidates=container.settings.reranker.candidates,
    )
    return SearchOut(group_by=body.group_by, hits=[SearchHit.of(hit) for hit in hits])
