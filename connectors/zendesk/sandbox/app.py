"""The Zendesk Support API over HTTP: exports, threads, ticket and user writes, and the faults the state queues.

Every request passes the same gate, in the order the real service applies it: gateway faults (5xx, 429 storms,
hangs), then the credentials (Basic ``{email}/token:{token}`` or an OAuth bearer), then the rate budget — the
incremental exports' own (10 a minute) or the account's. Errors are ``{"error": …, "description": …}``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from connectors.sandbox_faults import BEFORE_AUTH, ON_PAGES, Fault
from connectors.zendesk.sandbox import writes
from connectors.zendesk.sandbox.account import CursorError, decode_cursor, encode_cursor
from connectors.zendesk.sandbox.data import API_USER_ID
from connectors.zendesk.sandbox.faults import corrupt_rows
from connectors.zendesk.sandbox.state import SandboxState
from connectors.zendesk.sandbox.writes import Result

Handler = Callable[[Request], Awaitable[Response]]
EXPORT_PREFIX = "/api/v2/incremental/"
MAX_EXPORT_PAGE = 1000
MAX_COMMENTS_PAGE = 100


class _BadRequest(ValueError):
    """A query parameter the API refuses; its message is the error description."""


def error_response(status: int, error: str, description: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """Zendesk's error body."""
    return JSONResponse({"error": error, "description": description}, status_code=status, headers=headers)


def create_app(state: SandboxState) -> Starlette:
    """The ASGI app serving ``state``."""
    api = _ZendeskApi(state)
    routes = [
        ("/api/v2/users/me.json", api.me, ["GET"]),
        ("/api/v2/incremental/users/cursor.json", api.export_users, ["GET"]),
        ("/api/v2/incremental/tickets/cursor.json", api.export_tickets, ["GET"]),
        ("/api/v2/tickets.json", api.list_tickets, ["GET"]),
        ("/api/v2/tickets.json", api.create_ticket, ["POST"]),
        ("/api/v2/tickets/{ticket_id:int}.json", api.show_ticket, ["GET"]),
        ("/api/v2/tickets/{ticket_id:int}.json", api.update_ticket, ["PUT"]),
        ("/api/v2/tickets/{ticket_id:int}/comments.json", api.comments, ["GET"]),
        ("/api/v2/users/search.json", api.search_users, ["GET"]),
        ("/api/v2/users/create_or_update.json", api.create_or_update_user, ["POST"]),
        ("/api/v2/users/update_many.json", api.update_many, ["PUT"]),
        ("/api/v2/users/{user_id:int}.json", api.show_user, ["GET"]),
        ("/api/v2/job_statuses/{job_id}.json", api.job_status, ["GET"]),
    ]
    return Starlette(routes=[Route(path, api.gated(handler), methods=methods) for path, handler, methods in routes])


class _ZendeskApi:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def gated(self, handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            try:
                response = await self._gate(request) or await handler(request)
            except _BadRequest as error:
                response = error_response(400, "InvalidValue", str(error))
            self.state.log(request.method, request.url.path, response.status_code)
            return response

        return endpoint

    # ── reads ──────────────────────────────────────────────────────────────────────────────────────

    async def me(self, request: Request) -> Response:
        return JSONResponse({"user": self.state.record("users", API_USER_ID)})

    async def export_users(self, request: Request) -> Response:
        return self._export(request, "users")

    async def export_tickets(self, request: Request) -> Response:
        return self._export(request, "tickets")

    async def list_tickets(self, request: Request) -> Response:
        wanted = request.query_params.get("external_id")
        with self.state.lock:
            rows = [dict(row) for row in self.state.account.tickets.values()
                    if row["status"] != "deleted" and (wanted is None or row.get("external_id") == wanted)]  # fmt: skip
        rows = sorted(rows, key=lambda row: row["id"])[:100]
        return JSONResponse({"tickets": rows, "next_page": None, "previous_page": None, "count": len(rows)})

    async def show_ticket(self, request: Request) -> Response:
        ticket_id = request.path_params["ticket_id"]
        with self.state.lock:
            row = self.state.account.tickets.get(ticket_id)
            if row is None or row["status"] == "deleted":
                return error_response(404, "RecordNotFound", "Not found")
            body: dict[str, Any] = {"ticket": dict(row)}
            if "metric_sets" in request.query_params.get("include", ""):
                body["metric_sets"] = [self.state.account.metric_set(ticket_id)]
        return JSONResponse(body)

    async def comments(self, request: Request) -> Response:
        ticket_id = request.path_params["ticket_id"]
        if ticket_id not in self.state.account.tickets:
            return error_response(404, "RecordNotFound", "Not found")
        size = _int_param(request, "page[size]", MAX_COMMENTS_PAGE, 1, MAX_COMMENTS_PAGE)
        start = _comment_offset(request.query_params.get("page[after]"))
        thread = self.state.thread(ticket_id)
        page, more = thread[start : start + size], len(thread) > start + size
        after = base64.b64encode(f"comment:{start + len(page)}".encode()).decode() if page else None
        body: dict[str, Any] = {
            "comments": page,
            "meta": {"has_more": more, "after_cursor": after, "before_cursor": None},
            "links": {"next": str(request.url.include_query_params(**{"page[after]": after})) if more else None,
                      "prev": None},
        }  # fmt: skip
        if "users" in request.query_params.get("include", ""):
            authors = {comment["author_id"] for comment in page}
            body["users"] = [self.state.record("users", a) for a in sorted(authors) if a in self.state.account.users]
        return JSONResponse(body)

    async def show_user(self, request: Request) -> Response:
        user_id = request.path_params["user_id"]
        if user_id not in self.state.account.users:
            return error_response(404, "RecordNotFound", "Not found")
        return JSONResponse({"user": self.state.record("users", user_id)})

    async def search_users(self, request: Request) -> Response:
        external_id, query = request.query_params.get("external_id"), request.query_params.get("query", "")
        email = query.removeprefix("email:") if query.startswith("email:") else None
        if external_id is None and email is None:
            raise _BadRequest("search by external_id or query=email:…")
        with self.state.lock:
            found = [dict(row) for row in self.state.account.users.values()
                     if (external_id is not None and row.get("external_id") == external_id)
                     or (email is not None and row.get("email") == email)]  # fmt: skip
        return JSONResponse({"users": found, "next_page": None, "count": len(found)})

    async def job_status(self, request: Request) -> Response:
        job = self.state.account.jobs.get(request.path_params["job_id"])
        if job is None:
            return error_response(404, "RecordNotFound", "Not found")
        return JSONResponse({"job_status": dict(job)})

    # ── writes ─────────────────────────────────────────────────────────────────────────────────────

    async def create_ticket(self, request: Request) -> Response:
        payload = await _json_body(request)
        return await self._keyed(
            request, lambda: self.state.apply(lambda a, now: writes.create_ticket(a, payload, now))
        )

    async def update_ticket(self, request: Request) -> Response:
        ticket_id, payload = request.path_params["ticket_id"], await _json_body(request)
        return _answer(self.state.apply(lambda a, now: writes.update_ticket(a, ticket_id, payload, now)))

    async def create_or_update_user(self, request: Request) -> Response:
        payload = await _json_body(request)
        return _answer(self.state.apply(lambda a, now: writes.create_or_update_user(a, payload, now)))

    async def update_many(self, request: Request) -> Response:
        payload = await _json_body(request)
        return _answer(self.state.apply(lambda a, now: writes.update_many(a, payload, now)))

    async def _keyed(self, request: Request, write: Callable[[], Result]) -> Response:
        """Apply a ticket create once per ``Idempotency-Key``; a hit replays it, another body with the key is refused.

        Zendesk documents the key for ticket creation only, so no other write here honours it.
        """
        key = request.headers.get("idempotency-key")
        if not key:
            return _answer(write())
        fingerprint = hashlib.sha256(request.method.encode() + request.url.path.encode() + await request.body())
        result, lookup = self.state.idempotent(key, fingerprint.hexdigest(), write)
        if lookup == "mismatch":
            return error_response(400, "IdempotencyKeyReused", "the key was used with another request")
        return _answer(result, {"x-idempotency-lookup": lookup})

    # ── gate and export ────────────────────────────────────────────────────────────────────────────

    async def _gate(self, request: Request) -> Response | None:
        if self.state.latency_s:
            await asyncio.sleep(self.state.latency_s)
        fault = self.state.take_fault(BEFORE_AUTH, request.url.path)
        if fault is not None:
            return await self._gateway_fault(fault)
        if not self._authenticated(request.headers.get("authorization", "")):
            return error_response(401, "Couldn't authenticate you", "credentials missing or invalid")
        wait = self.state.spend("export" if request.url.path.startswith(EXPORT_PREFIX) else "api")
        if wait is not None:
            return error_response(429, "TooManyRequests", "rate limit exceeded", {"Retry-After": str(wait)})
        return None

    def _authenticated(self, header: str) -> bool:
        with self.state.lock:
            basic = base64.b64encode(f"{self.state.agent_email}/token:{self.state.api_token}".encode()).decode()
            accepted = (f"Basic {basic}", f"Bearer {self.state.oauth_token}")
        return any(hmac.compare_digest(header.encode(), good.encode()) for good in accepted)

    async def _gateway_fault(self, fault: Fault) -> Response:
        if fault.kind == "throttle":
            return error_response(
                429, "TooManyRequests", "rate limit exceeded", {"Retry-After": str(fault.retry_after)}
            )
        if fault.kind == "hang":
            loop = asyncio.get_running_loop()
            until = loop.time() + fault.seconds
            while loop.time() < until and not self.state.stopping.is_set():
                await asyncio.sleep(0.02)
        phrase = HTTPStatus(fault.status).phrase
        return error_response(fault.status, phrase.replace(" ", ""), phrase)

    def _export(self, request: Request, resource: str) -> Response:
        query = request.query_params
        limit = _int_param(request, "per_page", MAX_EXPORT_PAGE, 1, MAX_EXPORT_PAGE)
        after = self._export_start(request)
        rows, reached, end = self.state.export(
            resource, after=after, limit=limit, exclude_deleted=query.get("exclude_deleted") == "true"
        )
        fault = self.state.take_fault(ON_PAGES, request.url.path)
        if fault is not None and fault.kind == "non_json":
            return HTMLResponse("<html><body><h1>メンテナンス中</h1></body></html>")
        cursor = encode_cursor(reached)
        body: dict[str, Any] = {
            resource: corrupt_rows(resource, rows) if fault is not None else rows,
            "after_url": str(request.url.remove_query_params("start_time").include_query_params(cursor=cursor)),
            "after_cursor": cursor, "before_url": None, "before_cursor": None, "end_of_stream": end,
        }  # fmt: skip
        if resource == "tickets" and "metric_sets" in query.get("include", ""):
            with self.state.lock:
                body["metric_sets"] = [self.state.account.metric_set(row["id"]) for row in rows]
        return JSONResponse(body)

    def _export_start(self, request: Request) -> tuple[int, int]:
        """The position the page starts after: the cursor's, or just before ``start_time`` (inclusive)."""
        query = request.query_params
        if query.get("cursor"):
            try:
                return decode_cursor(query["cursor"])
            except CursorError as error:
                raise _BadRequest(str(error)) from None
        start = _int_param(request, "start_time", None, 0, None)
        if start > self.state.wall_clock() - self.state.export_delay_s:
            raise _BadRequest("Too recent start_time. Use a start_time older than the export delay")
        return start, -1


def _answer(result: Result, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(result.body, status_code=result.status, headers=headers)


async def _json_body(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError:
        raise _BadRequest("body is not JSON") from None


def _int_param(request: Request, name: str, default: int | None, low: int, high: int | None) -> int:
    text = request.query_params.get(name)
    if text is None:
        if default is None:
            raise _BadRequest(f"{name} is required")
        return default
    try:
        value = int(text)
    except ValueError:
        raise _BadRequest(f"{name} must be an integer") from None
    if value < low or (high is not None and value > high):
        raise _BadRequest(f"{name} must be between {low} and {high}")
    return value


def _comment_offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        label, _, number = base64.b64decode(cursor, validate=True).decode().partition(":")
        if label != "comment":
            raise ValueError(label)
        return int(number)
    except ValueError:
        raise _BadRequest("page[after] is not a cursor this API issued") from None
