"""Logging of the service: one JSON object per line (or plain text), with the request,
document, job and tenant the line is about when they are known.

The ids live in context variables: `RequestIdMiddleware` sets `request_id` (from the
`X-Request-ID` header, or a new one, echoed in the response) and the tenant for each HTTP
request; the Celery task signals (workers/metrics.py) set `document_id` / `job_id` from the
task's arguments. A formatter reads them, so every logger of the process (uvicorn's access
log, Celery's, the service's) carries them without being passed anything.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
document_id: ContextVar[str | None] = ContextVar("document_id", default=None)
job_id: ContextVar[str | None] = ContextVar("job_id", default=None)
tenant: ContextVar[str | None] = ContextVar("tenant", default=None)

CONTEXT = {"request_id": request_id, "document_id": document_id, "job_id": job_id, "tenant": tenant}
REQUEST_ID_HEADER = "X-Request-ID"
_MAX_REQUEST_ID = 128


def context() -> dict[str, str]:
    """The ids known in this context (unset ones left out)."""
    values = {name: var.get() for name, var in CONTEXT.items()}
    return {name: value for name, value in values.items() if value is not None}


def bind(**values: str | None) -> list[Token[str | None]]:
    """Set context ids (request_id, document_id, job_id, tenant); returns tokens to `unbind`."""
    return [CONTEXT[name].set(value) for name, value in values.items()]


def unbind(tokens: list[Token[str | None]]) -> None:
    for token in reversed(tokens):
        token.var.reset(token)


@contextmanager
def bound(**values: str | None) -> Iterator[None]:
    tokens = bind(**values)
    try:
        yield
    finally:
        unbind(tokens)


class JsonFormatter(logging.Formatter):
    """time, level, logger, message, the context ids, and `exception` (traceback text)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(context())
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The plain format, with the known ids appended as key=value."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        ids = " ".join(f"{k}={v}" for k, v in context().items())
        if not ids:
            return text
        first, newline, rest = text.partition("\n")
        return f"{first} [{ids}]{newline}{rest}"


_TOKEN_QUERY = re.compile(r"([?&]token=)[^&\s]*")


class RedactTokens(logging.Filter):
    """Hides a query's `token=` (a calendar feed's secret) in uvicorn's access lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _TOKEN_QUERY.sub(r"\1[redacted]", a) if isinstance(a, str) else a
                for a in record.args
            )
        return True


def configure_logging(fmt: str = "json", level: str = "INFO") -> None:
    """The root logger writes to stderr in `fmt` ("json" or "text"); handlers set earlier
    are replaced. uvicorn's and Celery's loggers propagate to it at the root's level (run
    uvicorn with log_config=None); a level uvicorn set on its own loggers is undone."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
        uvicorn_logger.setLevel(logging.NOTSET)
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactTokens) for f in access.filters):
        access.addFilter(RedactTokens())


def _request_id_of(scope: Scope) -> str:
    for key, value in scope.get("headers", []):
        if key == b"x-request-id":
            given: str = value.decode("latin-1").strip()
            if given and len(given) <= _MAX_REQUEST_ID and given.isprintable():
                return given
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Binds `request_id` (and the tenant, through `tenant_of`) for the request and echoes
    the id in the `X-Request-ID` response header. Pure ASGI: streamed responses unchanged."""

    def __init__(self, app: ASGIApp, tenant_of: Any = None) -> None:
        self.app = app
        self.tenant_of = tenant_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _request_id_of(scope)
        caller = self.tenant_of(scope) if self.tenant_of is not None else None

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"
                ]
                headers.append((b"x-request-id", rid.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        tokens = bind(request_id=rid, tenant=caller)
        # Left bound when the app raises, so the server's error line carries the id (uvicorn
        # runs each request in a task of its own: the context ends with it).
        await self.app(scope, receive, send_with_id)
        unbind(tokens)
