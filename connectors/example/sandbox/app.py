"""The Example API over HTTP: two list endpoints, one idempotent write, and the faults the state queues.

Every request passes the same gate, in the order a real deployment would apply it: gateway faults (5xx,
429 storms, hangs), then the bearer token, then the per-token rate budget. Errors are always
``{"errors": [{"code": …, "detail": …}]}``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from http import HTTPStatus
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from connectors.example.sandbox.faults import corrupt_page
from connectors.example.sandbox.state import PageKey, SandboxState
from connectors.sandbox_faults import BEFORE_AUTH, ON_PAGES, Fault

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_TAGS = 20
Handler = Callable[[Request], Awaitable[Response]]


class _BadRequest(ValueError):
    """A query parameter the API refuses; its message is the error detail."""


def create_app(state: SandboxState) -> Starlette:
    """The ASGI app serving ``state``."""
    api = _ExampleApi(state)
    return Starlette(
        routes=[
            Route("/v1/customers", api.gated(api.list_customers)),
            Route("/v1/orders", api.gated(api.list_orders)),
            Route("/v1/customers/{customer_id}/tags", api.gated(api.put_tags), methods=["PUT"]),
        ]
    )


def error_response(status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The API's error body."""
    return JSONResponse({"errors": [{"code": code, "detail": detail}]}, status_code=status, headers=headers)


def encode_cursor(key: PageKey | None) -> str | None:
    """An opaque page cursor: the position after which the next page starts."""
    if key is None:
        return None
    raw = json.dumps([key[0].isoformat(), key[1]], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> PageKey:
    """The position in a cursor made by ``encode_cursor``."""
    try:
        moment, row_id = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        return datetime.fromisoformat(moment), str(row_id)
    except (ValueError, TypeError, binascii.Error):
        raise _BadRequest("cursor is not one this API issued") from None


class _ExampleApi:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def gated(self, handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            response = await self._gate(request) or await handler(request)
            self.state.log(request.method, request.url.path, response.status_code)
            return response

        return endpoint

    async def list_customers(self, request: Request) -> Response:
        return self._list(request, "customers")

    async def list_orders(self, request: Request) -> Response:
        return self._list(request, "orders")

    async def put_tags(self, request: Request) -> Response:
        customer_id = request.path_params["customer_id"]
        key = request.headers.get("idempotency-key")
        if not key:
            return error_response(400, "idempotency_key_required", "send an Idempotency-Key header")
        body = await request.body()
        tags = _tags_from(body)
        if tags is None:
            return error_response(422, "invalid_tags", f"tags must be a list of at most {MAX_TAGS} strings")
        if customer_id not in self.state.record_ids("customers"):
            return error_response(404, "not_found", "no such customer")
        fingerprint = hashlib.sha256(f"{customer_id}\n{json.dumps(tags)}".encode()).hexdigest()

        def apply() -> tuple[int, dict[str, Any]]:
            row = self.state.update_record("customers", customer_id, tags=tags)
            return 200, {"data": {"id": row["id"], "tags": row["tags"], "updated_at": row["updated_at"]}}

        stored, replayed = self.state.write_once(key, fingerprint, apply)
        if stored.fingerprint != fingerprint:
            return error_response(422, "idempotency_key_reused", "key was used with different parameters")
        headers = {"Idempotent-Replayed": "true"} if replayed else None
        return JSONResponse(stored.body, status_code=stored.status, headers=headers)

    async def _gate(self, request: Request) -> Response | None:
        if self.state.latency_s:
            await asyncio.sleep(self.state.latency_s)
        fault = self.state.take_fault(BEFORE_AUTH, request.url.path)
        if fault is not None:
            return await self._gateway_fault(fault)
        expected = f"Bearer {self.state.token}".encode()
        if not hmac.compare_digest(request.headers.get("authorization", "").encode(), expected):
            return error_response(
                401, "unauthorized", "access token is missing or invalid", {"WWW-Authenticate": "Bearer"}
            )
        wait = self.state.spend_budget()
        if wait is not None:
            return error_response(429, "rate_limited", "request budget exhausted", {"Retry-After": str(wait)})
        return None

    async def _gateway_fault(self, fault: Fault) -> Response:
        if fault.kind == "throttle":
            return error_response(429, "rate_limited", "too many requests", {"Retry-After": str(fault.retry_after)})
        if fault.kind == "hang":
            await self._hang(fault.seconds)
        phrase = HTTPStatus(fault.status).phrase
        return error_response(fault.status, phrase.lower().replace(" ", "_"), phrase)

    async def _hang(self, seconds: float) -> None:
        """Sleep past the client's deadline, but let a stopping server go at once."""
        loop = asyncio.get_running_loop()
        until = loop.time() + seconds
        while loop.time() < until and not self.state.stopping.is_set():
            await asyncio.sleep(0.02)

    def _list(self, request: Request, stream: str) -> Response:
        try:
            query = _list_query(request)
        except _BadRequest as error:
            return error_response(400, "invalid_parameter", str(error))
        rows, next_key = self.state.page(stream, **query)
        fault = self.state.take_fault(ON_PAGES, request.url.path)
        if fault is not None and fault.kind == "non_json":
            return HTMLResponse("<html><body><h1>メンテナンス中</h1></body></html>")
        if fault is not None:
            rows = corrupt_page(stream, rows)
        return JSONResponse({"data": rows, "next_cursor": encode_cursor(next_key)})


def _list_query(request: Request) -> dict[str, Any]:
    """The list endpoints' parameters: ``updated_since``, ``updated_before``, ``order``, ``cursor``, ``limit``."""
    query = request.query_params
    try:
        limit = int(query.get("limit", DEFAULT_LIMIT))
    except ValueError:
        raise _BadRequest("limit must be an integer") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise _BadRequest(f"limit must be between 1 and {MAX_LIMIT}")
    order = query.get("order", "asc")
    if order not in ("asc", "desc"):
        raise _BadRequest("order must be asc or desc")
    return {
        "updated_since": _aware_datetime(query, "updated_since"),
        "updated_before": _aware_datetime(query, "updated_before"),
        "after": decode_cursor(query["cursor"]) if query.get("cursor") else None,
        "limit": limit,
        "descending": order == "desc",
    }


def _aware_datetime(query: Any, name: str) -> datetime | None:
    if name not in query:
        return None
    try:
        moment = datetime.fromisoformat(query[name])
    except ValueError:
        raise _BadRequest(f"{name} must be an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        raise _BadRequest(f"{name} must carry a UTC offset")
    return moment


def _tags_from(body: bytes) -> list[str] | None:
    try:
        tags = json.loads(body).get("tags")
    except (ValueError, AttributeError):
        return None
    valid = isinstance(tags, list) and len(tags) <= MAX_TAGS
    if not valid or not all(isinstance(tag, str) and 0 < len(tag) <= 40 for tag in tags):
        return None
    return sorted(set(tags))
