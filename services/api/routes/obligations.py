"""Key dates and obligations of the caller's contracts, their iCalendar feed, and the feed's
tokens: list, feed (token or key), create, list and revoke tokens, rebuild."""

from __future__ import annotations

from datetime import date as Date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from pipelines.obligations import ObligationKind
from services.api.deps import ContainerDep, TenantDep, get_tenant
from services.api.schemas import UtcDatetime
from services.app.obligations import FEED_PATH, ObligationService
from services.app.ports import CalendarFeed, Obligation

router = APIRouter(prefix="/v1", tags=["obligations"])
ICS_MEDIA_TYPE = "text/calendar; charset=utf-8"


def get_obligations(container: ContainerDep) -> ObligationService:
    return container.obligations


ObligationsDep = Annotated[ObligationService, Depends(get_obligations)]


class ObligationOut(BaseModel):
    """A key date or obligation: `quote` is the document text at `char_start:char_end` on
    `page` (verified when found there); `due_date` null when the text gives a rule only."""

    id: str
    document_id: str
    filename: str
    kind: str
    party: str | None
    due_date: Date | None
    rule: str | None
    quote: str
    page: int | None
    page_end: int | None
    char_start: int | None
    char_end: int | None
    verified: bool
    method: str

    @classmethod
    def of(cls, row: Obligation) -> ObligationOut:
        return cls(
            id=row.id,
            document_id=row.document_id,
            filename=row.filename,
            kind=row.kind,
            party=row.party,
            due_date=row.due_date,
            rule=row.rule,
            quote=row.quote,
            page=row.page,
            page_end=row.page_end,
            char_start=row.char_start,
            char_end=row.char_end,
            verified=row.verified,
            method=row.method,
        )


class ObligationList(BaseModel):
    obligations: list[ObligationOut]


class FeedIn(BaseModel):
    name: str = Field(min_length=1, max_length=128, pattern=r"\S", description="what it is for")


class FeedOut(BaseModel):
    id: str
    name: str
    created_at: UtcDatetime
    revoked_at: UtcDatetime | None = None

    @classmethod
    def of(cls, feed: CalendarFeed) -> FeedOut:
        return cls(
            id=feed.id, name=feed.name, created_at=feed.created_at, revoked_at=feed.revoked_at
        )


class FeedCreated(BaseModel):
    """A new feed: `token` is shown once (only its hash is kept); `url` subscribes to it."""

    id: str
    name: str
    token: str
    url: str


class FeedList(BaseModel):
    feeds: list[FeedOut]


class RebuildOut(BaseModel):
    documents: int = Field(description="ready contracts read")
    obligations: int = Field(description="rows written")
    failed: list[str] = Field(description="documents whose extraction failed")


@router.get("/obligations", response_model=ObligationList)
def list_obligations(
    service: ObligationsDep,
    tenant: TenantDep,
    due_before: Annotated[Date | None, Query(description="due on or before")] = None,
    due_after: Annotated[Date | None, Query(description="due on or after")] = None,
    document_id: Annotated[str | None, Query(max_length=64)] = None,
    kind: Annotated[ObligationKind | None, Query()] = None,
) -> ObligationList:
    """The caller's key dates and obligations, by due date (undated ones last, and only
    when no date bound is given)."""
    rows = service.find(
        tenant, due_before=due_before, due_after=due_after, document_id=document_id, kind=kind
    )
    return ObligationList(obligations=[ObligationOut.of(row) for row in rows])


@router.get(
    "/obligations.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}, 401: {}},
)
def obligations_feed(
    request: Request,
    service: ObligationsDep,
    token: Annotated[str | None, Query(max_length=256, description="a feed's token")] = None,
) -> Response:
    """The caller's dated obligations as an iCalendar feed, one all-day event each; for a
    calendar client, `?token=` of a feed (POST /v1/calendar-feeds), or the API key. An
    unknown or revoked token is refused (401)."""
    name = None
    if token is not None:
        feed = service.authenticate_feed(token)
        tenant, name = feed.tenant, feed.name
    else:
        tenant = get_tenant(request)
    body = service.calendar(tenant, base_url=str(request.base_url), name=name)
    return Response(
        content=body,
        media_type=ICS_MEDIA_TYPE,
        headers={"Content-Disposition": 'inline; filename="obligations.ics"'},
    )


@router.post("/obligations/rebuild", response_model=RebuildOut)
async def rebuild_obligations(service: ObligationsDep, tenant: TenantDep) -> RebuildOut:
    """Read the obligations of every ready contract of the caller again (contracts ingested
    before obligations existed get theirs); a contract whose extraction fails is listed."""
    done = await run_in_threadpool(service.rebuild, tenant)
    return RebuildOut(documents=done.documents, obligations=done.obligations, failed=done.failed)


@router.post("/calendar-feeds", response_model=FeedCreated, status_code=201)
def create_feed(body: FeedIn, service: ObligationsDep, tenant: TenantDep) -> FeedCreated:
    """A read-only token for the caller's calendar feed; shown once."""
    feed, token = service.create_feed(tenant, body.name)
    return FeedCreated(id=feed.id, name=feed.name, token=token, url=f"{FEED_PATH}?token={token}")


@router.get("/calendar-feeds", response_model=FeedList)
def list_feeds(service: ObligationsDep, tenant: TenantDep) -> FeedList:
    """The caller's feeds (never their tokens), revoked ones included."""
    return FeedList(feeds=[FeedOut.of(f) for f in service.feeds(tenant)])


@router.delete("/calendar-feeds/{feed_id}", response_model=FeedOut, responses={404: {}})
def revoke_feed(feed_id: str, service: ObligationsDep, tenant: TenantDep) -> FeedOut:
    """Revoke a feed: its token is refused from now on."""
    return FeedOut.of(service.revoke_feed(tenant, feed_id))
