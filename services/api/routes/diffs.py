"""/v1/documents/{id}/versions and /v1/documents/{id}/diff: upload a new version of a
document, list its versions, and the clauses that changed. Thin: the use cases are
`VersionService` and `DiffService`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.api.deps import ContainerDep, TenantDep
from services.api.routes.documents import _metadata, _read_bounded
from services.api.schemas import DocumentOut
from services.app.diff_results import DiffOut

router = APIRouter(prefix="/v1/documents", tags=["versions"])


class VersionList(BaseModel):
    versions: list[DocumentOut] = Field(description="the chain of versions, oldest first")


@router.post(
    "/{document_id}/versions",
    status_code=202,
    response_model=DocumentOut,
    responses={400: {}, 404: {}, 409: {}, 413: {}, 415: {}, 422: {}},
)
async def upload_version(
    container: ContainerDep,
    tenant: TenantDep,
    document_id: str,
    file: Annotated[UploadFile | None, File(description="the new version (a PDF)")] = None,
    password: Annotated[str | None, Form(description="password of an encrypted PDF")] = None,
    metadata: Annotated[
        str | None, Form(description="JSON object of strings, as POST /v1/documents takes")
    ] = None,
) -> JSONResponse:
    """Store and queue a PDF as the new version of `document_id` (any status); answers
    202 with the new document (`previous_id` set). The same file as `document_id`: 409.
    Another tenant's or an unknown document is 404 before the body is looked at (as every
    route with a document id), a missing `file` then 422."""
    await run_in_threadpool(container.documents.get, tenant, document_id)
    if file is None:
        missing = {"loc": ("body", "file"), "msg": "Field required", "type": "missing"}
        raise RequestValidationError([missing])
    values = _metadata(metadata)
    max_bytes = int(container.settings.parser.max_upload_mb * 1024 * 1024)
    data = await _read_bounded(file, max_bytes)
    result = await run_in_threadpool(
        container.versions.upload,
        tenant,
        document_id,
        file.filename or "upload.pdf",
        data,
        password or None,
        values,
    )
    body = DocumentOut.of(result.document, result.facts)
    return JSONResponse(status_code=202, content=body.model_dump(mode="json"))


@router.get("/{document_id}/versions", response_model=VersionList, responses={404: {}})
def list_versions(container: ContainerDep, tenant: TenantDep, document_id: str) -> VersionList:
    """The versions the document belongs to, oldest first (itself included)."""
    chain = container.versions.chain(tenant, document_id)
    return VersionList(versions=[DocumentOut.of(d, facts) for d, facts in chain])


@router.get(
    "/{document_id}/diff",
    response_model=DiffOut,
    responses={
        404: {"description": "unknown document, or no previous version and no `against`"},
        409: {"description": "a document is not ready"},
    },
)
def diff_document(
    container: ContainerDep, tenant: TenantDep, document_id: str, against: str | None = None
) -> DiffOut:
    """Clauses added, removed, changed and unchanged between `against` (default: the
    document's previous version) and this document, with both texts and pages, the risk
    categories each clause touches and how their cached findings changed."""
    return container.diffs.diff(tenant, document_id, against or None)
