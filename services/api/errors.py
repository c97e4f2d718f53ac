"""The only place that maps domain errors to HTTP status codes."""

from __future__ import annotations

import math

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from pipelines import errors

STATUS_BY_ERROR: list[tuple[type[errors.DocsightError], int]] = [
    (errors.Unauthenticated, 401),
    (errors.TooManyRequests, 429),
    (errors.NotFound, 404),
    (errors.Duplicate, 409),
    (errors.TooLarge, 413),
    (errors.NotAPdf, 415),
    (errors.EmptyDocument, 400),
    (errors.InvalidDocument, 422),
    (errors.DocumentNotReady, 409),
    (errors.LlmUnavailable, 503),
    (errors.LlmOutputInvalid, 502),
    (errors.LlmRequestRejected, 502),
    (errors.PromptTooLong, 422),
    (errors.StorageFull, 507),
    (errors.BackendUnavailable, 503),
    (errors.ModelUnavailable, 503),
]


def status_for(exc: errors.DocsightError) -> int:
    for kind, status in STATUS_BY_ERROR:
        if isinstance(exc, kind):
            return status
    return 500


def status_for_code(code: str | None) -> int:
    """The status of an error known only by its code (a failed job's)."""
    for kind, status in STATUS_BY_ERROR:
        if kind.code == code:
            return status
    return 500


def error_response(exc: errors.DocsightError) -> JSONResponse:
    """The JSON body of an error, with `WWW-Authenticate` on a 401 and `Retry-After` on a
    429 that knows when to retry."""
    headers: dict[str, str] = {}
    if isinstance(exc, errors.Unauthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    retry_after = getattr(exc, "retry_after_s", None)
    if retry_after is not None:
        headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return JSONResponse(status_code=status_for(exc), headers=headers,
                        content={"error_code": exc.code, "detail": str(exc)})


async def _handle(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.DocsightError)
    return error_response(exc)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.DocsightError, _handle)
