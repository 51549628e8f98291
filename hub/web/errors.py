"""One mapping from MemberHub errors to HTTP answers: JSON for the API, a page or a redirect for the console.

Messages are the errors' own one-line, PII-free texts; a validation error never echoes the submitted value, and
an unexpected error says only "internal error" with the request id to quote to an administrator.
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
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
JSON_PREFIXES = ("/api/", "/webhooks/", "/healthz", "/readyz")


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on the app."""
    app.add_exception_handler(MemberHubError, _hub_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)


def wants_json(request: Request) -> bool:
    """Whether the caller is an API client rather than the console."""
    return request.url.path.startswith(JSON_PREFIXES)


def error_response(request: Request, status: int, code: str, message: str, **headers: str) -> Response:
    """The error as JSON (API) or as the console's error page."""
    headers = {key.replace("_", "-"): value for key, value in headers.items()}
    if wants_json(request):
        body = {"error": {"code": code, "message": message, "request_id": _request_id(request)}}
        return JSONResponse(body, status_code=status, headers=headers)
    from hub.web.pages import render_error  # the console's templates import this module

    return render_error(request, status, message, headers)


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
        body = {"error": {"code": "invalid_request", "message": "the request is not valid", "problems": problems}}
        return JSONResponse(body, status_code=422)
    text = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
    return error_response(request, 422, "invalid_request", text)


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    headers = dict(error.headers or {})
    return error_response(request, error.status_code, "http_error", str(error.detail), **headers)


async def _unexpected_error(request: Request, error: Exception) -> Response:
    log.error("request_failed", error_class=type(error).__name__, request_id=_request_id(request), exc_info=error)
    return error_response(request, 500, "internal_error", f"internal error (request {_request_id(request)})")


def _problem(item: Any) -> dict[str, str]:
    """A validation problem without the submitted value (it may be personal data)."""
    location = [str(part) for part in item.get("loc", ()) if part not in ("body", "query", "path", "header")]
    return {"field": ".".join(location) or "request", "message": str(item.get("msg", "invalid"))}


def _request_id(request: Request) -> str:
    return request_id(request) or ""
