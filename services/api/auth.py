"""Every request but a few open paths carries an API key; the key says the tenant.

`ApiKeyMiddleware` (pure ASGI) checks the key before the request is routed or its body
read: a request without a valid key gets 401 on any path, existing or not, so a route
added later is closed by default. It also spends the key's rate-limit token (429 with
`Retry-After`). The tenant it found is left in `request.state.tenant` for `get_tenant`
(services/api/deps.py) and bound to the log context.

Open: /health, /ready, /metrics (restrict /metrics to the monitoring network: it shows
counts over every tenant), the API docs with their assets (services/api/docs.py) and the
review page with its assets (services/api/review.py; its calls carry the key), and the
calendar feed asked for with a `token` and no key (its route checks the token).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs

import anyio
from starlette.types import ASGIApp, Receive, Scope, Send

from pipelines.errors import BackendUnavailable, DocsightError, Unauthenticated
from services.api.docs import is_docs_path
from services.api.errors import error_response
from services.api.review import is_review_path
from services.app.auth import KeyService, Limiter, RateLimiter
from services.app.obligations import FEED_PATH
from services.runtime.logs import bind, unbind

OPEN_PATHS = frozenset({"/health", "/ready", "/metrics"})


def presented_key(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The key of `Authorization: Bearer <key>`, else of `X-API-Key: <key>`."""
    bearer = api_key = None
    for name, value in headers:
        if name.lower() == b"authorization":
            scheme, _, token = value.decode("latin-1").strip().partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                bearer = token.strip()
        elif name.lower() == b"x-api-key":
            api_key = value.decode("latin-1").strip() or None
    return bearer or api_key


def feed_token_only(path: str, scope: Scope, headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """A calendar client's request: the feed's path with a `token` query parameter and no
    key; the route checks the token (services/api/routes/obligations.py)."""
    if path != FEED_PATH or presented_key(headers) is not None:
        return False
    return bool(parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token"))


def key_service(app: Any) -> tuple[KeyService, Limiter | None]:
    """The app's key service and rate limiter (made at start by services/runtime/processes.py)."""
    runtime = getattr(app.state, "runtime", None)
    keys = getattr(runtime, "keys", None)
    if keys is None:
        raise BackendUnavailable("the key service is not started")
    return keys, getattr(runtime, "limiter", None)


MAX_HEADERS = 100
MAX_HEADER_BYTES = 32 * 1024


class ApiKeyMiddleware:
    """Also bounds the headers (431 past `MAX_HEADERS` or `MAX_HEADER_BYTES`, on every path)
    and the requests that present no valid key: `api.unauthenticated_per_minute` per client
    address, then 429 before any key lookup (guessing keys, or flooding the store with
    lookups, is slowed to that rate)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._strangers: RateLimiter | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = scope.get("headers", [])
        if (
            len(headers) > MAX_HEADERS
            or sum(len(k) + len(v) for k, v in headers) > MAX_HEADER_BYTES
        ):
            await _refuse_headers(send)
            return
        path = scope["path"]
        if (
            path in OPEN_PATHS
            or is_docs_path(path)
            or is_review_path(path)
            or feed_token_only(path, scope, headers)
        ):
            await self.app(scope, receive, send)
            return
        application = scope["app"]
        settings = application.state.settings
        if settings.api.auth == "none":
            tenant: str = settings.api.default_tenant
        else:
            strangers = self._stranger_limits(settings.api.unauthenticated_per_minute)
            address = (scope.get("client") or ("unknown", 0))[0]
            try:
                strangers.check(address)
                keys, limiter = key_service(application)
                try:
                    key = await anyio.to_thread.run_sync(keys.authenticate, presented_key(headers))
                except Unauthenticated:
                    strangers.take(address)
                    raise
                if limiter is not None:
                    limiter.take(key.id)
            except DocsightError as exc:
                await error_response(exc)(scope, receive, send)
                return
            tenant = key.tenant
            scope.setdefault("state", {})["api_key_id"] = key.id
        scope.setdefault("state", {})["tenant"] = tenant
        tokens = bind(tenant=tenant)
        # Left bound when the app raises, for the server's error line (as RequestIdMiddleware).
        await self.app(scope, receive, send)
        unbind(tokens)

    def _stranger_limits(self, per_minute: int) -> RateLimiter:
        if self._strangers is None or self._strangers.per_minute != per_minute:
            self._strangers = RateLimiter(per_minute)
        return self._strangers


async def _refuse_headers(send: Send) -> None:
    body = (
        b'{"error_code": "headers_too_large", "detail": "at most %d headers of %d bytes '
        b'in all"}' % (MAX_HEADERS, MAX_HEADER_BYTES)
    )
    await send(
        {
            "type": "http.response.start",
            "status": 431,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
