"""One mapping from MemberHub errors to HTTP answers: JSON for the API, a page or a redirect for the console.

Messages are the errors' own one-line, PII-free texts; a validation error never echoes the submitted value, and
an unexpected error says only "internal error" with the request id to quote to an administrator.
"""

from __future__ import annotations

import re
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from core.errors import (
    AuthenticationError,
    InvalidInputError,
    LoginThrottledError,
    MemberErasedError,
    MemberHubError,
    MemberNotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    WebhookRejected,
)
from hub.web.security import security_headers
from hub.web.state import request_id

log = structlog.get_logger("hub.web")

STATUS: tuple[tuple[type[MemberHubError], int, str], ...] = (
    (LoginThrottledError, 429, "throttled"),
    (AuthenticationError, 401, "unauthenticated"),
    (PermissionDeniedError, 403, "forbidden"),
    (RateLimitedError, 429, "rate_limited"),
    (MemberNotFoundError, 404, "not_found"),
    (MemberErasedError, 410, "erased"),
    (InvalidInputError, 422, "invalid_input"),
)
JSON_PREFIXES = ("/api/", "/webhooks/", "/healthz", "/readyz", "/metrics")  # machines: JSON errors, 401 not /login
_SCHEMA_REF = "#/components/schemas/{model}"
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


class Problem(BaseModel):
    """One invalid part of a request, without the value sent."""

    field: str
    message: str


class ErrorDetail(BaseModel):
    """What went wrong, in one PII-free line, and the request id to quote."""

    code: str
    message: str
    request_id: str
    problems: list[Problem] | None = None


class ErrorBody(BaseModel):
    """The body of every error answer of the API (routes name it in ``responses=`` for their other errors)."""

    error: ErrorDetail


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on the app, and document their 422 body in its OpenAPI schema."""
    app.add_exception_handler(MemberHubError, _hub_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(OverflowError, _number_out_of_range)
    app.add_exception_handler(Exception, _unexpected_error)
    _document_error_body(app)


def _document_error_body(app: FastAPI) -> None:
    """Replace FastAPI's own 422 body (``{"detail": [...]}``) in the schema by the ``ErrorBody`` we send."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()  # FastAPI's cached dict: rewriting it again on every call changes nothing
        components: dict[str, Any] = schema.setdefault("components", {}).setdefault("schemas", {})
        definition = ErrorBody.model_json_schema(ref_template=_SCHEMA_REF)
        components.update(definition.pop("$defs", {}), ErrorBody=definition)
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        body = {"schema": {"$ref": _SCHEMA_REF.format(model="ErrorBody")}}
        invalid = {"description": "The request is not valid", "content": {"application/json": body}}
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                if isinstance(operation, dict) and "422" in operation.get("responses", {}):
                    operation["responses"]["422"] = invalid
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def wants_json(request: Request) -> bool:
    """Whether the caller is an API client rather than the console.

    A request presenting a bearer token is a client such as a Prometheus scraper on ``/metrics``: it gets 401
    and JSON, not the sign-in page (browsers never send the header to the console).
    """
    return request.url.path.startswith(JSON_PREFIXES) or "authorization" in request.headers


def error_response(request: Request, status: int, code: str, message: str, **headers: str) -> Response:
    """The error as JSON (API) or as the console's error page."""
    headers = {key.replace("_", "-"): value for key, value in headers.items()}
    if wants_json(request):
        body = {"error": {"code": code, "message": message, "request_id": _request_id(request)}}
        return JSONResponse(body, status_code=status, headers=headers)
    from hub.web.pages import render_error  # the console's templates import this module

    return render_error(request, status, code, message, headers)


async def _hub_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, MemberHubError)
    if isinstance(error, WebhookRejected):
        return error_response(request, error.status, "webhook_rejected", str(error))
    status, code = next(((s, c) for kind, s, c in STATUS if isinstance(error, kind)), (500, "error"))
    headers: dict[str, str] = {}
    if isinstance(error, LoginThrottledError | RateLimitedError):
        headers["retry_after"] = str(error.retry_after)
    if status == 401:
        if not wants_json(request):
            return RedirectResponse("/login", status_code=303)
        headers["www_authenticate"] = 'Bearer realm="memberhub"'
    if status == 500:
        log.error("request_failed", error_class=type(error).__name__, request_id=_request_id(request))
    return error_response(request, status, code, str(error), **headers)


async def _validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    problems = [_problem(item) for item in error.errors()]
    if wants_json(request):
        detail = {"code": "invalid_request", "message": "the request is not valid", "request_id": _request_id(request)}
        return JSONResponse({"error": detail | {"problems": problems}}, status_code=422)
    text = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
    return error_response(request, 422, "invalid_request", text)


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    headers = dict(error.headers or {})
    return error_response(request, error.status_code, "http_error", str(error.detail), **headers)


async def _number_out_of_range(request: Request, error: Exception) -> Response:
    """A number too large for the database (SQLite binds at most 64-bit integers): the caller's mistake, not ours."""
    log.warning("number_out_of_range", error_class=type(error).__name__, request_id=_request_id(request))
    return error_response(request, 422, "invalid_input", "a number in the request is out of range")


async def _unexpected_error(request: Request, error: Exception) -> Response:
    log.error("request_failed", error_class=type(error).__name__, request_id=_request_id(request), exc_info=error)
    response = error_response(request, 500, "internal_error", f"internal error (request {_request_id(request)})")
    # Starlette sends this answer from its outermost middleware, past SecurityHeaders: the headers come from here.
    response.headers.update(security_headers(request.url.path, _request_id(request)))
    return response


def _problem(item: Any) -> dict[str, str]:
    """A validation problem without the submitted value (it may be personal data).

    A field name the caller made up (an unexpected JSON key) is named only if it looks like an identifier: a key
    can carry an email address as well as a value can.
    """
    parts = [part for part in item.get("loc", ()) if part not in ("body", "query", "path", "header", "cookie")]
    location = [str(part) if _is_identifier(part) else "(unknown field)" for part in parts]
    message = str(item.get("msg", "invalid"))
    submitted = item.get("input")
    if isinstance(submitted, str) and len(submitted) > 2 and submitted in message:
        message = "invalid value"
    return {"field": ".".join(location) or "request", "message": message}


def _is_identifier(part: object) -> bool:
    return isinstance(part, int) or (isinstance(part, str) and _IDENTIFIER.fullmatch(part) is not None)


def _request_id(request: Request) -> str:
    return request_id(request) or ""
