"""/v1/search: hybrid search over the caller's documents."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from services.api.deps import get_container, get_tenant
from services.api.schemas import SearchHit, SearchIn, SearchOut
from services.container import Container

router = APIRouter(prefix="/v1", tags=["search"])


@router.post("/search", response_model=SearchOut, responses={404: {}})
def search(
    body: SearchIn,
    container: Annotated[Container, Depends(get_container)],
    tenant: Annotated[str, Depends(get_tenant)],
) -> SearchOut:
    """Chunks ranked by dense + keyword (BM25-style) relevance, with pages and scores."""
    hits = container.documents.search(
        tenant, body.query, limit=body.limit, document_ids=body.document_ids
    )
    return SearchOut(hits=[SearchHit.of(hit) for hit in hits])
