"""The Shopify GraphQL Admin API over HTTP: ``POST /admin/api/{version}/graphql.json`` and bulk result downloads.

Every request passes the same gate, in the order Shopify's edge would apply it: gateway faults (5xx, hangs),
the API version, the ``X-Shopify-Access-Token``, the body, the GraphQL document, then the cost bucket.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import re
import time
from http import HTTPStatus
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    execute_sync,
    parse,
    validate,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from connectors.shopify.sandbox.cost import query_cost
from connectors.shopify.sandbox.faults import corrupt_connections
from connectors.shopify.sandbox.schema import SCHEMA, QueryContext
from connectors.shopify.sandbox.state import RELEASE_CANDIDATE, SUPPORTED_VERSIONS, SandboxState

UNAUTHORIZED = "[API] Invalid API key or access token (unrecognized login or wrong password)"
RATE_LIMITS_DOC = "https://shopify.dev/api/usage/rate-limits"
_DATED_VERSION = re.compile(r"\d{4}-(01|04|07|10)")


def create_app(state: SandboxState) -> Starlette:
    """The ASGI app serving ``state``."""
    api = _GraphqlApi(state)
    return Starlette(
        routes=[
            Route("/admin/api/{version}/graphql.json", api.graphql, methods=["POST"]),
            Route("/bulk-results/{token}.jsonl", api.bulk_result),
        ]
    )


def served_version(requested: str) -> str | None:
    """The version Shopify answers a request for ``requested`` with, or ``None`` (404) if there is no such version.

    A supported version is served as asked; an older dated version falls forward to the oldest supported one;
    ``unstable`` and the release candidate are served too.
    """
    if requested in (*SUPPORTED_VERSIONS, RELEASE_CANDIDATE, "unstable"):
        return requested
    if _DATED_VERSION.fullmatch(requested) and requested < SUPPORTED_VERSIONS[0]:
        return SUPPORTED_VERSIONS[0]
    return None


class _GraphqlApi:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    async def graphql(self, request: Request) -> Response:
        started = time.perf_counter()
        response = await self._answer(request)
        self.state.log(request.url.path, response.status_code, seconds=time.perf_counter() - started)
        return response

    async def bulk_result(self, request: Request) -> Response:
        with self.state.lock:
            path = self.state.bulk.result_path(request.path_params["token"])
        if path is None:
            return JSONResponse({"errors": "Not Found"}, status_code=404)
        return FileResponse(path, media_type="application/jsonl")

    async def _answer(self, request: Request) -> Response:
        fault = self.state.take_fault(frozenset({"fail", "hang"}))
        if fault is not None:
            if fault.kind == "hang":
                await self._hang(fault.seconds)
            return JSONResponse({"errors": HTTPStatus(fault.status).phrase}, status_code=fault.status)
        version = served_version(request.path_params["version"])
        if version is None:
            return JSONResponse({"errors": "Not Found"}, status_code=404)
        token = request.headers.get("x-shopify-access-token", "").encode()
        if not hmac.compare_digest(token, self.state.access_token.encode()):
            return JSONResponse({"errors": UNAUTHORIZED}, status_code=401)
        body = await _json_body(request)
        if body is None:
            return JSONResponse({"errors": {"query": "Required parameter missing or invalid"}}, status_code=400)
        response = self._execute(body)
        response.headers["X-Shopify-API-Version"] = version
        return response

    def _execute(self, body: dict[str, Any]) -> JSONResponse:
        try:
            document = parse(body["query"])
        except GraphQLError as error:
            return JSONResponse({"errors": [error.formatted]})
        errors = validate(SCHEMA, document)
        if errors:
            return JSONResponse({"errors": [error.formatted for error in errors]})
        variables = body.get("variables") or {}
        requested = query_cost(SCHEMA, document, variables)
        if requested > self.state.max_query_cost:
            message = (
                f"Query cost is {requested}, which exceeds the single query max cost limit "
                f"({self.state.max_query_cost})."
            )
            return self._refused(requested, message, "MAX_COST_EXCEEDED", 200)
        forced = self.state.take_fault(frozenset({"throttle"})) is not None
        if forced or not self.state.bucket.try_spend(requested):
            return self._refused(requested, "Throttled", "THROTTLED", self.state.throttled_status)
        return self._run(document, variables, body.get("operationName"), requested)

    def _run(
        self, document: DocumentNode, variables: dict[str, Any], operation: str | None, requested: int
    ) -> JSONResponse:
        with self.state.lock:
            context = QueryContext(self.state.records, self.state.bulk, self.state.base_url)
            result = execute_sync(
                SCHEMA, document, context_value=context, variable_values=variables, operation_name=operation
            )
        data = result.data
        actual = requested if _is_mutation(document) else query_cost(SCHEMA, document, variables, data or {})
        self.state.bucket.refund(requested - actual)
        if self.state.take_fault(frozenset({"garbage"})) is not None:
            corrupt_connections(data)
        payload: dict[str, Any] = {"data": data}
        if result.errors:
            payload["errors"] = [error.formatted for error in result.errors]
        payload["extensions"] = {"cost": self._cost(requested, actual)}
        return JSONResponse(payload)

    def _refused(self, requested: int, message: str, code: str, status: int) -> JSONResponse:
        body = {
            "errors": [{"message": message, "extensions": {"code": code, "documentation": RATE_LIMITS_DOC}}],
            "extensions": {"cost": self._cost(requested, None)},
        }
        return JSONResponse(body, status_code=status)

    def _cost(self, requested: int, actual: int | None) -> dict[str, Any]:
        return {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": self.state.bucket.status(),
        }

    async def _hang(self, seconds: float) -> None:
        """Sleep past the client's deadline, but let a stopping server go at once."""
        loop = asyncio.get_running_loop()
        until = loop.time() + seconds
        while loop.time() < until and not self.state.stopping.is_set():
            await asyncio.sleep(0.02)


async def _json_body(request: Request) -> dict[str, Any] | None:
    try:
        body = json.loads(await request.body())
    except ValueError:
        return None
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return None
    return body


def _is_mutation(document: DocumentNode) -> bool:
    return any(
        isinstance(node, OperationDefinitionNode) and node.operation == OperationType.MUTATION
        for node in document.definitions
    )
