"""/v1/documents: upload, list, get, delete. Thin: parse input, call the service, shape output."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter, ValidationError

from pipelines.errors import DocsightError, TooLarge
from pipelines.models import DocumentStatus
from pipelines.portfolio import Metadata
from services.api.deps import ContainerDep, TenantDep
from services.api.errors import status_for
from services.api.schemas import Accepted, DocumentList, DocumentOut, Rejected, UploadOut

router = APIRouter(prefix="/v1/documents", tags=["documents"])

_METADATA = TypeAdapter(Metadata)


def _metadata(raw: str | None) -> dict[str, str] | None:
    """The `metadata` form field: a JSON object of strings (422 otherwise)."""
    if raw is None:
        return None
    try:
        return _METADATA.validate_json(raw)
    except ValidationError as exc:
        raise RequestValidationError(
            [
                {**error, "loc": ("body", "metadata", *error["loc"])}
                for error in exc.errors(include_url=False, include_context=False)
            ]
        ) from None


async def _read_bounded(upload: UploadFile, max_bytes: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    while block := await upload.read(1 << 20):
        size += len(block)
        if size > max_bytes:
            raise TooLarge(f"the file is larger than the upload limit of {max_bytes / 1e6:.1f} MB")
        parts.append(block)
    return b"".join(parts)


@router.post(
    "",
    status_code=202,
    response_model=UploadOut,
    responses={400: {}, 413: {}, 415: {}, 422: {}},
)
async def upload_documents(
    container: ContainerDep,
    tenant: TenantDep,
    files: Annotated[list[UploadFile], File(description="one or several PDF files")],
    password: Annotated[str | None, Form(description="password of encrypted PDFs")] = None,
    metadata: Annotated[
        str | None,
        Form(
            description='JSON object of strings, e.g. {"counterparty": "Acme"} (at most 32 keys '
            "of <= 64 characters, values <= 256), for every file of the request; "
            "searchable with /v1/search's metadata filter"
        ),
    ] = None,
    previous_id: Annotated[
        str | None,
        Form(description="the id of the document these files are new versions of"),
    ] = None,
) -> Response:
    """Store and queue PDFs; answers 202 with their ids. Ingestion runs in the worker."""
    values = _metadata(metadata)
    max_bytes = int(container.settings.parser.max_upload_mb * 1024 * 1024)
    accepted: list[Accepted] = []
    rejected: list[Rejected] = []
    for upload in files:
        filename = upload.filename or "upload.pdf"
        try:
            data = await _read_bounded(upload, max_bytes)
            if previous_id:  # a new version: same checks, then linked to its previous one
                result = await run_in_threadpool(
                    container.versions.upload,
                    *(tenant, previous_id, filename, data, password or None, values),
                )
            else:
                result = await run_in_threadpool(  # file write and database: off the loop
                    container.documents.upload, tenant, filename, data, password or None, values
                )
        except DocsightError as exc:
            status = status_for(exc)
            if status >= 500:
                raise
            rejected.append(
                Rejected(
                    filename=filename, error_code=exc.code, reason=str(exc), status_code=status
                )
            )
            continue
        accepted.append(
            Accepted(
                document=DocumentOut.of(result.document, result.facts), duplicate=result.duplicate
            )
        )
    body = UploadOut(accepted=accepted, rejected=rejected)
    status = 202 if accepted else _common_status(rejected)
    return JSONResponse(status_code=status, content=body.model_dump(mode="json"))


def _common_status(rejected: list[Rejected]) -> int:
    codes = {item.status_code for item in rejected}
    return codes.pop() if len(codes) == 1 else 400


@router.get("", response_model=DocumentList)
def list_documents(
    container: ContainerDep, tenant: TenantDep, status: DocumentStatus | None = None
) -> DocumentList:
    documents = container.documents.list_described(tenant, status)
    return DocumentList(documents=[DocumentOut.of(d, facts) for d, facts in documents])


@router.get("/{document_id}", response_model=DocumentOut, responses={404: {}})
def get_document(container: ContainerDep, tenant: TenantDep, document_id: str) -> DocumentOut:
    return DocumentOut.of(*container.documents.describe(tenant, document_id))


@router.delete("/{document_id}", status_code=204, responses={404: {}})
def delete_document(container: ContainerDep, tenant: TenantDep, document_id: str) -> Response:
    """Erase the document and everything derived from it (`DocumentService.delete`)."""
    container.documents.delete(tenant, document_id)  # its cached analyses go with it
    return Response(status_code=204)
