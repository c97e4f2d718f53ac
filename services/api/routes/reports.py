"""Daily reports: list, read (JSON, Markdown, self-contained HTML), (re)build on demand."""

from __future__ import annotations

from datetime import date as Date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse
from pydantic import AfterValidator, BaseModel
from starlette.concurrency import run_in_threadpool

from pipelines.errors import NotFound
from pipelines.report_models import Report, ReportRecord, ReportStatus
from services.api.deps import ReportsDep, TenantDep
from services.api.errors import status_for_code
from services.api.schemas import UtcDatetime
from services.api.waiting import poll_until
from services.app.rendering.html import render_html
from services.app.rendering.markdown import render_markdown

router = APIRouter(prefix="/v1", tags=["reports"])
Format = Literal["json", "markdown", "html"]


def _reportable(day: Date) -> Date:
    """A day whose window (that day and the next, in any time zone) exists in the calendar."""
    if not Date(1, 1, 2) <= day <= Date(9999, 12, 30):
        raise ValueError("a report's date must be between 0001-01-02 and 9999-12-30")
    return day


ReportDate = Annotated[Date, AfterValidator(_reportable)]


class ReportOut(BaseModel):
    """A stored report: `report` is the last finished one (kept while a rebuild runs)."""

    date: Date
    status: ReportStatus
    error_code: str | None = None
    reason: str | None = None
    started_at: UtcDatetime
    updated_at: UtcDatetime
    report: Report | None = None

    @classmethod
    def of(cls, record: ReportRecord, *, content: bool = True) -> ReportOut:
        return cls(
            date=record.date,
            status=record.status,
            error_code=record.error_code,
            reason=record.reason,
            started_at=record.started_at,
            updated_at=record.updated_at,
            report=current(record) if content else None,
        )


def current(record: ReportRecord) -> Report | None:
    """The stored report with the row's status (a rebuild shows the last one as building)."""
    if record.report is None:
        return None
    return record.report.model_copy(update={"status": record.status})


class ReportList(BaseModel):
    reports: list[ReportOut]


@router.get("/reports", response_model=ReportList)
def list_reports(reports: ReportsDep, tenant: TenantDep) -> ReportList:
    """The caller's latest 100 daily reports, newest first (status only; GET one to read)."""
    return ReportList(
        reports=[ReportOut.of(r, content=False) for r in reports.list_reports(tenant)]
    )


@router.get(
    "/reports/{date}",
    response_model=ReportOut,
    responses={
        202: {
            "description": "the first build of this date has not stored "
            "anything yet (a second at most)"
        },
        404: {},
        200: {"content": {"text/markdown": {}, "text/html": {}}},
    },
)
def get_report(
    date: ReportDate,
    reports: ReportsDep,
    tenant: TenantDep,
    format: Annotated[Format, Query()] = "json",
) -> Any:
    """The report of `date` (YYYY-MM-DD, in the configured time zone) as it stands:
    `format=json` (with its build status), `markdown` (text/markdown) or `html` (one
    self-contained page). While analyses are pending its status is `building` and it lists
    what is ready and what is pending."""
    record = reports.get(tenant, date)
    if record is None:
        raise NotFound(f"no report for {date}; POST /v1/reports/{date} builds it")
    report = current(record)
    if report is None:
        return JSONResponse(status_code=202, content=ReportOut.of(record).model_dump(mode="json"))
    if format == "markdown":
        return PlainTextResponse(render_markdown(report), media_type="text/markdown")
    if format == "html":
        return HTMLResponse(render_html(report))
    return ReportOut.of(record)


@router.post(
    "/reports/{date}",
    response_model=ReportOut,
    status_code=200,
    responses={202: {"description": "the first build of this date has not stored anything yet"}},
)
async def build_report(
    date: ReportDate,
    reports: ReportsDep,
    tenant: TenantDep,
    wait: Annotated[float, Query(ge=0, le=600)] = 0,
) -> Any:
    """(Re)build the report of `date` (a build already running is not started twice) and
    answer 200 with the report as it stands once the build ended or after `wait` seconds
    (status `building` while analyses are pending); 202 only while nothing is stored yet."""
    record = await run_in_threadpool(reports.request, tenant, date)
    if wait > 0:  # polled without holding a thread (services.api.waiting)
        record = await poll_until(
            lambda: reports.get(tenant, date) or record, lambda r: r.status != "building", wait
        )
    if record.status == "failed":
        status = status_for_code(record.error_code)
    else:
        status = 200 if record.report is not None else 202
    return JSONResponse(
        status_code=status,
        content=ReportOut.of(record).model_dump(mode="json"),
        headers={"Location": f"/v1/reports/{date}"},
    )
