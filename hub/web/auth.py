"""Who is calling: a session cookie (console) or a bearer token (integrations), and what they may do.

Every route declares the role and scope it needs through ``require``; a request without valid credentials gets
401, one whose role or token scopes are too small gets 403. A request authenticated by the session cookie that
changes state must carry the session's CSRF token (form field or ``X-CSRF-Token`` header) and must not come
from another origin — browsers attach cookies to cross-site requests, not bearer tokens.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from core.access import Principal, Role, Scope, csrf_matches
from core.errors import AuthenticationError, PermissionDeniedError
from hub.web.state import WebState, web_state

SECURE_COOKIE = "__Host-memberhub"  # __Host-: Secure, Path=/, no Domain — no sub-domain can plant or read it
PLAIN_COOKIE = "memberhub"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfRejected(PermissionDeniedError):
    """A cookie-authenticated request that changes state came without its CSRF token or from elsewhere."""


def session_cookie_name(state: WebState) -> str:
    """The session cookie's name (``__Host-`` prefixed unless cookies are configured not to be Secure)."""
    return SECURE_COOKIE if state.secure_cookies else PLAIN_COOKIE


async def authenticate(request: Request, state: Annotated[WebState, Depends(web_state)]) -> Principal:
    """The principal of a request, from ``Authorization: Bearer`` or the session cookie.

    Database reads run in the thread pool, never on the event loop that serves every other request.
    """
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        principal = await token_principal(state, token.strip()) if scheme.lower() == "bearer" else None
        if principal is None:
            raise AuthenticationError("the API token is not valid")
    else:
        session = request.cookies.get(session_cookie_name(state))
        principal = await run_in_threadpool(state.sessions.resolve, session) if session else None
        if principal is None or session is None:
            raise AuthenticationError("sign in first")
        if request.method not in SAFE_METHODS:
            await check_csrf(request, session)
        request.state.session_token = session
    request.state.principal = principal
    return principal


async def token_principal(state: WebState, token: str) -> Principal | None:
    """The principal of an API token: from this process's recent verifications, else from the database."""
    return state.tokens.recently_verified(token) or await run_in_threadpool(state.tokens.resolve, token)


async def check_csrf(request: Request, session_token: str) -> None:
    """Refuse a state-changing cookie request from another origin or without the session's CSRF token."""
    check_origin(request)
    presented = request.headers.get(CSRF_HEADER)
    if presented is None and _is_form(request):
        value = (await request.form()).get(CSRF_FIELD)
        presented = value if isinstance(value, str) else None
    if not csrf_matches(session_token, presented):
        raise CsrfRejected("the form's security token is missing or wrong; reload the page and try again")


def check_origin(request: Request) -> None:
    """Refuse a request a browser says comes from another site or origin."""
    if request.headers.get("sec-fetch-site") in ("cross-site", "same-site"):
        raise CsrfRejected("requests from other sites are refused")
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise CsrfRejected("requests from other origins are refused")


def require(role: Role, scope: Scope) -> Callable[..., Awaitable[Principal]]:
    """A dependency that admits principals whose role reaches ``role`` and whose scopes include ``scope``."""

    async def dependency(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if not principal.allows(role, scope):
            raise PermissionDeniedError(f"this needs the {role} role and the {scope} scope")
        return principal

    dependency.__name__ = f"require_{role}_{scope.value.replace(':', '_')}"
    return dependency


def _is_form(request: Request) -> bool:
    content_type = request.headers.get("content-type", "")
    return content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))
