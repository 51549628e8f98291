"""The Klaviyo API over HTTP: reads of profiles, events, metrics and lists, and the gate every request passes.

The gate applies, in order: gateway faults (5xx, 429 storms, hangs), the ``revision`` header (400 without
a valid one), the private key (401), then the burst and steady rate windows (429 + ``Retry-After``). Writes
live in ``writes``.
"""

from __future__ import annotations

import asyncio
import hmac
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from http import HTTPStatus
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from connectors.klaviyo.sandbox import writes
from connectors.klaviyo.sandbox.faults import corrupt_page
from connectors.klaviyo.sandbox.jsonapi import (
    JSON_API,
    BadRequest,
    Condition,
    bad_request,
    decode_cursor,
    error_response,
    page_document,
    page_size,
    parse_filter,
)
from connectors.klaviyo.sandbox.state import SandboxState
from connectors.sandbox_faults import BEFORE_AUTH, ON_PAGES, Fault

Handler = Callable[[Request], Awaitable[Response]]
_REVISION = re.compile(r"^(\d{4}-\d{2}-\d{2})(\.[a-z0-9]+)?$")
OLDEST_REVISION = "2023-02-22"
_PROFILE_FILTERS = {("updated", "greater-than"), ("updated", "less-than"), ("email", "equals")}
_EVENT_FILTERS = {("metric_id", "equals"), ("profile_id", "equals")} | {
    ("datetime", operator) for operator in ("greater-than", "greater-or-equal", "less-than", "less-or-equal")
}


def create_app(state: SandboxState) -> Starlette:
    """The ASGI app serving ``state``."""
    api, wr = _KlaviyoApi(state), writes.Writes(state)
    return Starlette(
        routes=[
            api.route("/api/profiles/", GET=api.list_profiles, POST=wr.create_profile),
            api.route("/api/profiles/{profile_id}/", GET=api.get_profile, PATCH=wr.patch_profile),
            api.route("/api/profile-import/", POST=wr.import_profile),
            api.route("/api/events/", GET=api.list_events, POST=wr.create_event),
            api.route("/api/metrics/", GET=api.list_metrics),
            api.route("/api/lists/{list_id}/profiles/", GET=api.list_members),
            api.route("/api/lists/{list_id}/relationships/profiles/",
                      GET=api.list_member_ids, POST=wr.add_to_list, DELETE=wr.remove_from_list),
            api.route("/api/profile-subscription-bulk-create-jobs/", POST=wr.subscribe),
            api.route("/api/profile-subscription-bulk-delete-jobs/", POST=wr.unsubscribe),
        ]
    )  # fmt: skip


class _KlaviyoApi:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def route(self, path: str, **handlers: Handler) -> Route:
        """``path`` answering each method with its handler, behind the gate."""

        async def endpoint(request: Request) -> Response:
            response, headers = await self._gate(request)
            if response is None:
                handler = handlers[request.method]
                try:
                    response = await handler(request)
                except BadRequest as error:
                    response = bad_request(error)
                response.headers.update(headers)
            self.state.log(request.method, request.url.path, response.status_code)
            return response

        return Route(path, endpoint, methods=list(handlers))

    async def list_profiles(self, request: Request) -> Response:
        query = dict(request.query_params)
        conditions = _conditions(query, _PROFILE_FILTERS)
        if query.get("sort", "updated") != "updated":
            raise BadRequest("sort must be 'updated' in this sandbox", parameter="sort")
        size = page_size(query, 20, 100)
        after = decode_cursor(query["page[cursor]"]) if query.get("page[cursor]") else None
        rows = [row for row in self.state.profile_rows() if _profile_matches(row, conditions)]
        chosen, next_key = _keyset(rows, "updated", after, size)
        subscriptions = "subscriptions" in query.get("additional-fields[profile]", "").split(",")
        data = [self._served_profile(row, subscriptions) for row in chosen]
        return self._page(request, query, data, next_key)

    async def get_profile(self, request: Request) -> Response:
        row = self.state.profile(request.path_params["profile_id"])
        if row is None:
            return error_response(404, "not_found", "Not found.", "A profile with this id does not exist.")
        subscriptions = "subscriptions" in request.query_params.get("additional-fields[profile]", "").split(",")
        return JSONResponse({"data": self._served_profile(row, subscriptions)}, media_type=JSON_API)

    async def list_events(self, request: Request) -> Response:
        query = dict(request.query_params)
        conditions = _conditions(query, _EVENT_FILTERS)
        if query.get("sort", "datetime") != "datetime":
            raise BadRequest("sort must be 'datetime' in this sandbox", parameter="sort")
        size = page_size(query, 200, 200)
        after = decode_cursor(query["page[cursor]"]) if query.get("page[cursor]") else None
        rows = [row for row in self.state.event_rows() if _event_matches(row, conditions)]
        chosen, next_key = _keyset(rows, "datetime", after, size)
        return self._page(request, query, chosen, next_key)

    async def list_metrics(self, request: Request) -> Response:
        data = [{"type": "metric", "id": metric_id, "attributes": {"name": name, "integration": None}}
                for metric_id, name in sorted(self.state.metrics().items())]  # fmt: skip
        return JSONResponse(page_document(data, self._base(request), {}, None), media_type=JSON_API)

    async def list_members(self, request: Request) -> Response:
        members = self._members(request)
        if members is None:
            return _no_list()
        rows = [self.state.profile(profile_id) for profile_id in members]
        data = [self._served_profile(row, False) for row in rows if row is not None]
        return JSONResponse(page_document(data, self._base(request), {}, None), media_type=JSON_API)

    async def list_member_ids(self, request: Request) -> Response:
        members = self._members(request)
        if members is None:
            return _no_list()
        data = [{"type": "profile", "id": profile_id} for profile_id in members]
        return JSONResponse(page_document(data, self._base(request), {}, None), media_type=JSON_API)

    def _members(self, request: Request) -> dict[str, str] | None:
        return self.state.list_members(request.path_params["list_id"])

    def _page(
        self, request: Request, query: dict[str, str], data: list[Any], next_key: tuple[str, str] | None
    ) -> Response:
        fault = self.state.take_fault(ON_PAGES, request.url.path)
        if fault is not None and fault.kind == "non_json":
            return HTMLResponse("<html><body><h1>メンテナンス中</h1></body></html>")
        if fault is not None:
            data = corrupt_page(data)
        query = {key: value for key, value in query.items() if key != "page[cursor]"}
        return JSONResponse(page_document(data, self._base(request), query, next_key), media_type=JSON_API)

    def _served_profile(self, row: dict[str, Any], subscriptions: bool) -> dict[str, Any]:
        if not subscriptions:
            row["attributes"].pop("subscriptions", None)
        row["links"] = {"self": f"{self.state.base_url}/api/profiles/{row['id']}/"}
        return row

    def _base(self, request: Request) -> str:
        return f"{self.state.base_url}{request.url.path}"

    async def _gate(self, request: Request) -> tuple[Response | None, dict[str, str]]:
        fault = self.state.take_fault(BEFORE_AUTH, request.url.path)
        if fault is not None:
            return await self._gateway_fault(fault), {}
        match = _REVISION.match(request.headers.get("revision", ""))
        if match is None or match[1] < OLDEST_REVISION:
            detail = "The revision header is missing or is not a valid API revision (YYYY-MM-DD)."
            return error_response(400, "invalid", "Invalid input.", detail, source={"header": "revision"}), {}
        expected = f"Klaviyo-API-Key {self.state.api_key}".encode()
        if not hmac.compare_digest(request.headers.get("authorization", "").encode(), expected):
            detail = "Incorrect authentication credentials."
            return error_response(401, "not_authenticated", "Authentication credentials were not provided.", detail), {}
        wait, headers = self.state.spend_budget()
        if wait is not None:
            detail = f"Request was throttled. Expected available in {wait} seconds."
            response = error_response(
                429, "throttled", "Request was throttled.", detail, headers={"Retry-After": str(wait)}
            )
            return response, {}
        return None, headers

    async def _gateway_fault(self, fault: Fault) -> Response:
        if fault.kind == "throttle":
            detail = f"Request was throttled. Expected available in {fault.retry_after} seconds."
            headers = {"Retry-After": str(fault.retry_after)}
            return error_response(429, "throttled", "Request was throttled.", detail, headers=headers)
        if fault.kind == "hang":
            loop = asyncio.get_running_loop()
            until = loop.time() + fault.seconds
            while loop.time() < until and not self.state.stopping.is_set():
                await asyncio.sleep(0.02)
        phrase = HTTPStatus(fault.status).phrase
        return error_response(fault.status, phrase.lower().replace(" ", "_"), phrase, phrase)


def _conditions(query: dict[str, str], allowed: set[tuple[str, str]]) -> list[Condition]:
    conditions = parse_filter(query.get("filter"))
    for condition in conditions:
        if (condition.field, condition.operator) not in allowed:
            detail = f"'{condition.operator}' is not a valid operator for '{condition.field}'"
            raise BadRequest(detail, parameter="filter")
    return conditions


def _profile_matches(row: dict[str, Any], conditions: list[Condition]) -> bool:
    return all(_holds(row["attributes"].get(c.field), c) for c in conditions)


def _event_matches(row: dict[str, Any], conditions: list[Condition]) -> bool:
    relationships = row["relationships"]
    values = {
        "metric_id": relationships["metric"]["data"]["id"],
        "profile_id": relationships["profile"]["data"]["id"],
        "datetime": row["attributes"]["datetime"],
    }
    return all(_holds(values[c.field], c) for c in conditions)


def _holds(value: Any, condition: Condition) -> bool:
    if condition.operator == "equals":
        return bool(value == condition.value)
    moment, bound = datetime.fromisoformat(str(value)), condition.moment()
    return {"greater-than": moment > bound, "greater-or-equal": moment >= bound,
            "less-than": moment < bound, "less-or-equal": moment <= bound}[condition.operator]  # fmt: skip


def _keyset(
    rows: list[dict[str, Any]], field: str, after: tuple[str, str] | None, size: int
) -> tuple[list[dict[str, Any]], tuple[str, str] | None]:
    """Rows by ``(field, id)`` strictly past ``after``: a position, so a row moving to the end shifts no other."""

    def key(row: dict[str, Any]) -> tuple[str, str]:
        return row["attributes"][field], row["id"]

    chosen = [row for row in sorted(rows, key=key) if after is None or key(row) > after]
    return chosen[:size], (key(chosen[size - 1]) if len(chosen) > size else None)


def _no_list() -> Response:
    return error_response(404, "not_found", "Not found.", "A list with this id does not exist.")
