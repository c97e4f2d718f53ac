"""The only place that maps domain errors to HTTP status codes."""

from __future__ import annotations

import math

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

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
    return JSONResponse(
        status_code=status_for(exc),
        headers=headers,
        content={"error_code": exc.code, "detail": str(exc)},
    )


async def _handle(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.DocsightError)
    return error_response(exc)


INVALID_REQUEST = "invalid_request"
_CODES_BY_STATUS = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    422: INVALID_REQUEST,
}


def _text(value: object) -> str:
    """Any value as printable UTF-8 text (lone surrogates replaced), at most 200 chars."""
    return str(value).encode("utf-8", "replace").decode("utf-8")[:200]


async def _invalid(_request: Request, exc: Exception) -> JSONResponse:
    """A body, path or query that does not validate (malformed JSON, NaN or Infinity where
    a number is expected, lone surrogates, a date out of range): 422 with `error_code`.
    Only where and what is said, never the input, so nothing in it can break the reply."""
    assert isinstance(exc, RequestValidationError)
    detail = [
        {
            "loc": [_text(part) for part in error.get("loc", ())],
            "msg": _text(error.get("msg", "")),
            "type": _text(error.get("type", "")),
        }
        for error in exc.errors()[:20]
    ]
    return JSONResponse(status_code=422, content={"error_code": INVALID_REQUEST, "detail": detail})


async def _http(_request: Request, exc: Exception) -> JSONResponse:
    """The framework's own errors (unknown route, wrong method, unreadable body) with an
    `error_code` like every other error."""
    assert isinstance(exc, HTTPException)
    code = _CODES_BY_STATUS.get(exc.status_code, f"http_{exc.status_code}")
    return JSONResponse(
        status_code=exc.status_code,
        headers=exc.headers,
        content={"error_code": code, "detail": _text(exc.detail)},
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(errors.DocsightError, _handle)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(HTTPException, _http)
