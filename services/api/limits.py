"""Request bodies bounded while they arrive, and uploads in flight bounded per tenant.

`BodyLimitMiddleware` refuses a request whose `Content-Length` is over the limit before
reading any of it, and stops reading one without a length (chunked) as soon as it passes
the limit: the framework never spools more than the limit to its temporary files. Bodies of
`POST /v1/documents` and `POST /v1/documents/{id}/versions` may be `api.max_request_mb`
(PDFs), every other body `api.max_body_kb` (JSON). A tenant has at most
`api.max_uploads_per_tenant` uploads being received at once (429 beyond), so the temporary
space one tenant can take is bounded by that many times `max_request_mb` (a client that
gets 429 retries after `Retry-After`).
Sits inside `ApiKeyMiddleware` (it knows the tenant).
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter

from starlette.types import ASGIApp, Message, Receive, Scope, Send

UPLOAD_PATH = "/v1/documents"
VERSION_UPLOAD_PATH = re.compile(r"/v1/documents/[^/]+/versions")  # a document's new version


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._uploads: Counter[str] = Counter()
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        settings = scope["app"].state.settings.api
        path = scope["path"].rstrip("/")
        upload = scope["method"] == "POST" and (
            path == UPLOAD_PATH or VERSION_UPLOAD_PATH.fullmatch(path) is not None
        )
        limit = int(
            settings.max_request_mb * 1024 * 1024 if upload else settings.max_body_kb * 1024
        )
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, 413, "too_large", _too_large(limit))
            return
        tenant = str(scope.get("state", {}).get("tenant", ""))
        if upload and not self._enter(tenant, settings.max_uploads_per_tenant):
            await _refuse(
                send,
                429,
                "too_many_uploads",
                f"at most {settings.max_uploads_per_tenant} uploads of one tenant "
                "are received at once; retry when one has finished",
                {"retry-after": "2"},
            )
            return
        try:
            await self._bounded(scope, receive, send, limit)
        finally:
            if upload:
                self._leave(tenant)

    async def _bounded(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        received = 0
        over = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:  # stop reading: the app sees the client gone
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over:  # whatever the app answers to the cut body, the answer is 413
                if not started:
                    started = True
                    await _refuse(send, 413, "too_large", _too_large(limit))
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not over:
                raise
        if over and not started:
            await _refuse(send, 413, "too_large", _too_large(limit))

    def _enter(self, tenant: str, most: int) -> bool:
        with self._lock:
            if most and self._uploads[tenant] >= most:
                return False
            self._uploads[tenant] += 1
            return True

    def _leave(self, tenant: str) -> None:
        with self._lock:
            self._uploads[tenant] -= 1
            if self._uploads[tenant] <= 0:
                del self._uploads[tenant]


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _too_large(limit: int) -> str:
    return f"the request body is larger than the limit of {limit / 1e6:.1f} MB"


async def _refuse(
    send: Send, status: int, code: str, detail: str, headers: dict[str, str] | None = None
) -> None:
    body = json.dumps({"error_code": code, "detail": detail}).encode()
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
