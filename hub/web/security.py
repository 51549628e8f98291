"""Security headers, request ids and a PII-free access log for every response (pure ASGI middleware).

Member pages must not be cached or framed and may load nothing from elsewhere; the access log names the route
template (``/api/v1/members/{member_id}``), never the raw path or query string, and never the client address.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import structlog

log = structlog.get_logger("hub.web.access")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
BASE_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",  # no-referrer makes browsers send "Origin: null" on our own forms
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
NO_STORE = "no-store"
STATIC_CACHE = "public, max-age=3600"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class SecurityHeaders:
    """Adds the security headers and ``X-Request-ID``, and logs one access line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request or other ASGI event."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        fixed = _STATIC_HEADERS if scope["path"].startswith("/static/") else _PAGE_HEADERS
        added = [*fixed, (b"x-request-id", request_id.encode())]

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _REPLACED]
                message["headers"] = headers + added
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            route = scope.get("route")
            log.info(
                "http_request",
                method=scope["method"],
                path_template=getattr(route, "path", "(unmatched)"),
                status_code=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
                request_id=request_id,
            )


def security_headers(path: str, request_id: str) -> dict[str, str]:
    """The headers of every response: no framing, sniffing or caching (static files are cached), the request id."""
    if path.startswith("/static/"):
        return BASE_HEADERS | {"cache-control": STATIC_CACHE, "x-request-id": request_id}
    return BASE_HEADERS | {"cache-control": NO_STORE, "pragma": "no-cache", "x-request-id": request_id}


_REPLACED = {name.encode() for name in (*BASE_HEADERS, "cache-control", "pragma", "x-request-id")}


def _encoded_headers(path: str) -> list[tuple[bytes, bytes]]:
    """The headers of every response under ``path`` but the request id, encoded once for all of them."""
    headers = security_headers(path, "")
    return [(name.encode(), value.encode()) for name, value in headers.items() if name != "x-request-id"]


_STATIC_HEADERS = _encoded_headers("/static/")
_PAGE_HEADERS = _encoded_headers("/")


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = bytes(value).decode("latin-1")
            if _REQUEST_ID.fullmatch(text):
                return text
    return uuid.uuid4().hex
