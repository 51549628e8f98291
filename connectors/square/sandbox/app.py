"""The Square API over HTTP: locations, customer search and writes, order search and reads, Square's errors.

Every request passes the same gate, in the order Square's edge would apply it: gateway faults (5xx, 429, hangs),
the bearer token, the ``Square-Version`` header, then the rate budget. Errors are always
``{"errors": [{"category", "code", "detail", "field"?}]}``; a 429 carries no ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from connectors.sandbox_faults import BEFORE_AUTH, ON_PAGES, Fault
from connectors.square.sandbox.faults import corrupt
from connectors.square.sandbox.search import SearchError, search_customers, search_orders
from connectors.square.sandbox.state import SandboxState

Handler = Callable[[Request], Awaitable[Response]]
_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_BIRTHDAY = re.compile(r"^(\d{4}-)?\d{2}-\d{2}$")
_CATEGORIES = {400: "INVALID_REQUEST_ERROR", 401: "AUTHENTICATION_ERROR", 403: "AUTHENTICATION_ERROR",
               404: "INVALID_REQUEST_ERROR", 409: "INVALID_REQUEST_ERROR", 429: "RATE_LIMIT_ERROR"}  # fmt: skip
_CODES = {400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND", 429: "RATE_LIMITED",
          500: "INTERNAL_SERVER_ERROR", 502: "BAD_GATEWAY", 503: "SERVICE_UNAVAILABLE",
          504: "GATEWAY_TIMEOUT"}  # fmt: skip
_IDENTIFYING = ("given_name", "family_name", "company_name", "email_address", "phone_number")
"""CreateCustomer needs at least one of these."""
_CUSTOMER_FIELDS = frozenset(
    {"given_name", "family_name", "email_address", "phone_number", "address", "birthday", "reference_id", "note",
     "nickname", "company_name"}
)  # fmt: skip


def create_app(state: SandboxState) -> Starlette:
    """The ASGI app serving ``state``."""
    api = _SquareApi(state)
    return Starlette(
        routes=[
            Route("/v2/locations", api.gated(api.list_locations)),
            Route("/v2/customers/search", api.gated(api.search_customers), methods=["POST"]),
            Route("/v2/customers", api.gated(api.create_customer), methods=["POST"]),
            Route("/v2/customers/{customer_id}", api.gated(api.retrieve_customer)),
            Route("/v2/customers/{customer_id}", api.gated(api.update_customer), methods=["PUT"]),
            Route("/v2/orders/search", api.gated(api.search_orders), methods=["POST"]),
            Route("/v2/orders/batch-retrieve", api.gated(api.batch_retrieve_orders), methods=["POST"]),
            Route("/v2/orders/{order_id}", api.gated(api.retrieve_order)),
        ]
    )


def error_response(status: int, code: str | None = None, detail: str = "", field: str | None = None) -> JSONResponse:
    """Square's error body; the category follows from the status."""
    error = {"category": _CATEGORIES.get(status, "API_ERROR"), "code": code or _CODES.get(status, "BAD_REQUEST"),
             "detail": detail or code or "error"}  # fmt: skip
    if field:
        error["field"] = field
    return JSONResponse({"errors": [error]}, status_code=status)


class _BadRequest(ValueError):
    def __init__(self, code: str, detail: str, field: str | None = None, status: int = 400) -> None:
        super().__init__(detail)
        self.response = error_response(status, code, detail, field)


class _SquareApi:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def gated(self, handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            try:
                response = await self._gate(request) or await handler(request)
            except _BadRequest as refused:
                response = refused.response
            self.state.log(request.method, request.url.path, response.status_code)
            return response

        return endpoint

    async def list_locations(self, request: Request) -> Response:
        with self.state.lock:
            records = self.state.records
            return JSONResponse({"locations": [records.location(n) for n in range(1, records.data.locations + 1)]})

    async def search_customers(self, request: Request) -> Response:
        body = await _json(request)
        with self.state.lock:
            answer = _searched(lambda: search_customers(self.state.records, body, self.state.now_ms()))
        return self._maybe_garbage("customers", answer)

    async def search_orders(self, request: Request) -> Response:
        body = await _json(request)
        with self.state.lock:
            answer = _searched(lambda: search_orders(self.state.records, body, self.state.now_ms()))
        return self._maybe_garbage("orders", answer)

    async def retrieve_customer(self, request: Request) -> Response:
        with self.state.lock:
            index = self._index("customers", request.path_params["customer_id"])
            return JSONResponse({"customer": self.state.records.customer(index)})

    async def create_customer(self, request: Request) -> Response:
        body = await _json(request)
        key = body.pop("idempotency_key", None)
        fields = _customer_fields(body)
        if key is not None and (not isinstance(key, str) or not 1 <= len(key) <= 45):
            raise _BadRequest("INVALID_VALUE", "idempotency_key must have 1 to 45 characters", "idempotency_key")
        if not any(fields.get(name) for name in _IDENTIFYING):
            raise _BadRequest(
                "MISSING_REQUIRED_PARAMETER", "Give a name, a company, an email address or a phone number"
            )

        def apply() -> tuple[int, dict[str, Any]]:
            index = self.state.records.create_customer(fields)
            return 200, {"customer": self.state.records.customer(index)}

        if key is None:
            with self.state.lock:
                status, answer = apply()
            return JSONResponse(answer, status_code=status)
        fingerprint = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
        stored, _ = self.state.write_once(key, fingerprint, apply)
        if stored.fingerprint != fingerprint:
            raise _BadRequest(
                "IDEMPOTENCY_KEY_REUSED", "The idempotency key was used with a different request", "idempotency_key"
            )
        return JSONResponse(stored.body, status_code=stored.status)

    async def update_customer(self, request: Request) -> Response:
        body = await _json(request)
        version = body.pop("version", None)
        fields = _customer_fields(body)
        with self.state.lock:
            index = self._index("customers", request.path_params["customer_id"])
            current = self.state.records.version(index)
            if version is not None and version != current:
                raise _BadRequest("VERSION_MISMATCH", "The customer was changed by another request", "version", 409)
            self.state.records.update_customer(index, fields)
            customer = self.state.records.customer(index)
        self.state.notify("customers", customer["id"], "customer.updated")
        return JSONResponse({"customer": customer})

    async def retrieve_order(self, request: Request) -> Response:
        with self.state.lock:
            index = self._index("orders", request.path_params["order_id"])
            return JSONResponse({"order": self.state.records.order(index)})

    async def batch_retrieve_orders(self, request: Request) -> Response:
        body = await _json(request)
        ids = body.get("order_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise _BadRequest("INVALID_VALUE", "order_ids must list 1 to 100 ids", "order_ids")
        with self.state.lock:
            records = self.state.records
            found = [index for order_id in ids if (index := records.index_of("orders", str(order_id))) is not None]
            return JSONResponse({"orders": [records.order(index) for index in found]})

    def _index(self, stream: str, record_id: str) -> int:
        index = self.state.records.index_of(stream, record_id)
        if index is None:
            raise _BadRequest("NOT_FOUND", f"{stream[:-1].title()} not found", None, 404)
        return index

    def _maybe_garbage(self, stream: str, answer: dict[str, Any]) -> Response:
        fault = self.state.take_fault(ON_PAGES) if stream in answer else None
        if fault is not None and fault.kind == "non_json":
            return HTMLResponse("<html><body><h1>メンテナンス中</h1></body></html>")
        if fault is not None:
            answer = {**answer, stream: corrupt(stream, answer[stream])}
        return JSONResponse(answer)

    async def _gate(self, request: Request) -> Response | None:
        fault = self.state.take_fault(BEFORE_AUTH)
        if fault is not None:
            return await self._gateway_fault(fault)
        expected = f"Bearer {self.state.access_token}".encode()
        if not hmac.compare_digest(request.headers.get("authorization", "").encode(), expected):
            return error_response(401, "UNAUTHORIZED", "This request could not be authorized.")
        version = request.headers.get("square-version")
        if version is not None and not _VERSION.fullmatch(version):
            return error_response(400, "INVALID_SQUARE_VERSION_FORMAT", "Square-Version must be a YYYY-MM-DD date")
        if not self.state.spend_budget():
            return error_response(429, "RATE_LIMITED", "Too many requests")
        return None

    async def _gateway_fault(self, fault: Fault) -> Response:
        if fault.kind == "hang":
            await self._hang(fault.seconds)
        return error_response(fault.status)

    async def _hang(self, seconds: float) -> None:
        """Sleep past the client's deadline, but let a stopping server go at once."""
        loop = asyncio.get_running_loop()
        until = loop.time() + seconds
        while loop.time() < until and not self.state.stopping.is_set():
            await asyncio.sleep(0.02)


def _searched(run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return run()
    except SearchError as refused:
        raise _BadRequest(refused.code, refused.detail, refused.field) from None


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        raise _BadRequest("INVALID_CONTENT_TYPE", "The request body is not JSON") from None
    if not isinstance(body, dict):
        raise _BadRequest("EXPECTED_OBJECT", "The request body must be an object")
    return body


def _customer_fields(body: dict[str, Any]) -> dict[str, Any]:
    """The customer fields of a create or update body, checked as Square checks them."""
    fields = {name: value for name, value in body.items() if name in _CUSTOMER_FIELDS}
    for name, value in fields.items():
        if name == "address":
            if not isinstance(value, dict):
                raise _BadRequest("EXPECTED_OBJECT", "address must be an object", "address")
        elif not isinstance(value, str):
            raise _BadRequest("EXPECTED_STRING", f"{name} must be a string", name)
    reference = fields.get("reference_id")
    if isinstance(reference, str) and len(reference) > 100:
        raise _BadRequest("INVALID_VALUE", "reference_id must have at most 100 characters", "reference_id")
    birthday = fields.get("birthday")
    if birthday and not _BIRTHDAY.fullmatch(birthday):
        raise _BadRequest("INVALID_VALUE", "birthday must be YYYY-MM-DD or MM-DD", "birthday")
    email = fields.get("email_address")
    if email and "@" not in email:
        raise _BadRequest("INVALID_EMAIL_ADDRESS", "email_address is not valid", "email_address")
    return fields
