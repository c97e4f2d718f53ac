"""/v1/documents/{id}/highlights and /v1/documents/{id}/pages/{n}.png, for the review page.
Thin: parse input, call `HighlightService`, shape output."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from services.api.deps import ContainerDep, TenantDep
from services.app.highlights import DEFAULT_WIDTH, MAX_WIDTH, MIN_WIDTH

router = APIRouter(prefix="/v1/documents", tags=["documents"])


class PageBoxesOut(BaseModel):
    page: int
    width: float
    height: float
    rects: list[tuple[float, float, float, float]]


class HighlightsOut(BaseModel):
    """Rectangles `[x0, y0, x1, y1]` in points, origin at the page's top left."""

    document_id: str
    start: int
    end: int
    located: bool
    boxes: list[PageBoxesOut]


@router.get("/{document_id}/highlights", response_model=HighlightsOut, responses={404: {}, 409: {}})
async def get_highlights(
    container: ContainerDep,
    tenant: TenantDep,
    document_id: str,
    start: Annotated[int, Query(ge=0)] = 0,
    end: Annotated[int, Query(ge=0, description="exclusive; end <= start: nothing")] = 0,
) -> HighlightsOut:
    """Where characters `start:end` of the document's text are on its pages."""
    found = await run_in_threadpool(
        container.highlights.highlights, tenant, document_id, start, end
    )
    return HighlightsOut(
        document_id=found.document_id,
        start=found.start,
        end=found.end,
        located=found.located,
        boxes=[
            PageBoxesOut(page=b.page, width=b.width, height=b.height, rects=b.rects)
            for b in found.boxes
        ],
    )


@router.get(
    "/{document_id}/pages/{page}.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, 304: {}, 404: {}, 409: {}},
)
async def get_page_png(
    container: ContainerDep,
    tenant: TenantDep,
    document_id: str,
    page: str,
    width: Annotated[int, Query(ge=MIN_WIDTH, le=MAX_WIDTH)] = DEFAULT_WIDTH,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Page `page` (1-based, of `pages_total`) rendered `width` pixels wide, as PNG."""
    number = int(page) if page.isdigit() and len(page) < 7 else 0  # not a page: 404
    image = await run_in_threadpool(
        container.highlights.page_png, tenant, document_id, number, width, if_none_match
    )
    headers = {"ETag": image.etag, "Cache-Control": "private, max-age=86400"}
    if not image.png:  # the client's copy is current
        return Response(status_code=304, headers=headers)
    return Response(content=image.png, media_type="image/png", headers=headers)
