"""Comparison tables over many documents: start one, follow it, export it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from pipelines.comparison_models import MAX_DOCUMENTS, ComparisonRecord, Table
from pipelines.models import ACTIVE_JOB_STATUSES, JobStatus
from services.api.deps import ContainerDep, TenantDep
from services.api.errors import INVALID_REQUEST
from services.api.schemas import UtcDatetime
from services.api.waiting import poll_until
from services.app.comparisons import UnknownColumns
from services.app.rendering.comparison import to_csv, to_json, to_xlsx

router = APIRouter(prefix="/v1", tags=["comparisons"])
Wait = Annotated[float, Query(ge=0, le=600, description="seconds to wait for it to finish")]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ComparisonIn(BaseModel):
    document_ids: list[str] = Field(min_length=1, max_length=MAX_DOCUMENTS)
    columns: list[str] | None = Field(
        default=None,
        max_length=60,
        description="CUAD categories or summary fields (default: the ten default columns)",
    )
    use_model: bool = Field(
        default=True, description="ask the model for cells the text did not answer (false: none)"
    )


class ComparisonOut(BaseModel):
    """A comparison; `table` once `done` (each cell: value, quote, page, verified)."""

    id: str
    status: JobStatus
    document_ids: list[str]
    columns: list[str]
    use_model: bool
    steps_done: int | None = Field(default=None, description="documents done")
    steps_total: int | None = Field(default=None, description="documents in the table")
    step: str | None = None
    error_code: str | None = None
    reason: str | None = None
    created_at: UtcDatetime
    updated_at: UtcDatetime
    table: Table | None = None

    @classmethod
    def of(cls, record: ComparisonRecord, with_table: bool = True) -> ComparisonOut:
        return cls(
            **record.model_dump(exclude={"result", "tenant", "attempts"}),
            table=record.table() if with_table else None,
        )


class ComparisonList(BaseModel):
    comparisons: list[ComparisonOut]


@router.post(
    "/comparisons",
    status_code=202,
    response_model=ComparisonOut,
    responses={404: {}, 409: {"description": "a document is not ready"}, 422: {}},
)
async def create_comparison(body: ComparisonIn, container: ContainerDep, tenant: TenantDep) -> Any:
    """Start a comparison table of `document_ids` x `columns` (an identical one still
    running is returned instead). Follow it at `Location`."""
    try:
        record = await run_in_threadpool(
            container.comparisons.submit,
            tenant,
            body.document_ids,
            body.columns,
            use_model=body.use_model,
        )
    except UnknownColumns as exc:
        return JSONResponse(
            status_code=422,
            content={
                "error_code": INVALID_REQUEST,
                "detail": str(exc),
                "unknown": exc.unknown,
                "valid": exc.valid,
            },
        )
    content = ComparisonOut.of(record).model_dump(mode="json")
    return JSONResponse(
        status_code=202, content=content, headers={"Location": f"/v1/comparisons/{record.id}"}
    )


async def _record(container: Any, tenant: str, comparison_id: str, wait: float) -> Any:
    return await poll_until(
        lambda: container.comparisons.get(tenant, comparison_id),
        lambda record: record.status not in ACTIVE_JOB_STATUSES,
        wait,
    )


@router.get("/comparisons/{comparison_id}", response_model=ComparisonOut, responses={404: {}})
async def get_comparison(
    comparison_id: str, container: ContainerDep, tenant: TenantDep, wait: Wait = 0
) -> ComparisonOut:
    """A comparison: `queued`, `running` (`steps_done` of `steps_total` documents),
    `waiting` (a backend is down; retried), `done` (with `table`) or `failed` (`reason`)."""
    record = await _record(container, tenant, comparison_id, wait)
    return ComparisonOut.of(record)


@router.get(
    "/comparisons/{comparison_id}/export",
    responses={
        200: {"content": {"text/csv": {}, XLSX: {}, "application/json": {}}},
        404: {},
        409: {"description": "not done yet"},
    },
)
async def export_comparison(
    comparison_id: str,
    container: ContainerDep,
    tenant: TenantDep,
    format: Literal["csv", "xlsx", "json"] = "csv",  # noqa: A002  (the query's name)
) -> Response:
    """The finished table as a file: CSV (value, quote, page per column), XLSX (sheet
    "table" and sheet "evidence"; unverified values marked) or JSON."""
    record = await run_in_threadpool(container.comparisons.get, tenant, comparison_id)
    table = record.table()
    if table is None:
        return JSONResponse(
            status_code=409,
            content={
                "error_code": "not_done",
                "detail": f"comparison {record.id} is {record.status.value}, not done",
            },
        )
    name = f"comparison-{record.id[:8]}.{format}"
    disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
    if format == "xlsx":
        data = await run_in_threadpool(to_xlsx, table)
        return Response(data, media_type=XLSX, headers=disposition)
    if format == "json":
        return Response(to_json(table), media_type="application/json", headers=disposition)
    return Response(to_csv(table), media_type="text/csv; charset=utf-8", headers=disposition)


@router.get("/comparisons", response_model=ComparisonList)
def list_comparisons(container: ContainerDep, tenant: TenantDep) -> ComparisonList:
    """The caller's latest 100 comparisons, newest first (without their tables)."""
    records = container.comparisons.recent(tenant)
    return ComparisonList(comparisons=[ComparisonOut.of(r, with_table=False) for r in records])
