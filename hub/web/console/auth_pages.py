"""Sign-in, sign-out and the language switch of the console."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response

from core.access import Principal
from core.errors import AuthenticationError, LoginThrottledError
from hub.web.auth import CsrfRejected, authenticate, check_origin, session_cookie_name
from hub.web.i18n import LOCALES
from hub.web.pages import LANGUAGE_COOKIE, locale_of, render
from hub.web.state import WebState, web_state

router = APIRouter(include_in_schema=False)
State = Annotated[WebState, Depends(web_state)]
LOGIN_COOKIE = "memberhub_login"  # double-submit token of the sign-in form (there is no session yet)


@router.get("/login")
def login_form(request: Request) -> Response:
    """The sign-in form."""
    return _login_page(request)


@router.post("/login")
async def login(
    request: Request,
    state: State,
    username: Annotated[str, Form(max_length=128)],
    password: Annotated[str, Form(max_length=1024)],
    login_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """Check the name and password; a new session (a new id, never the old one) on success."""
    check_origin(request)
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, login_token):
        raise CsrfRejected("the sign-in form expired; reload the page and try again")
    client = request.client.host if request.client else "unknown"
    try:
        user = await run_in_threadpool(state.users.authenticate, username, password, client)
    except LoginThrottledError as error:
        response = _login_page(request, "login.throttled", status=429)
        response.headers["retry-after"] = str(error.retry_after)
        return response
    except AuthenticationError:
        return _login_page(request, "login.failed", status=401)
    old = request.cookies.get(session_cookie_name(state))
    if old:
        state.sessions.end(old)
    token = state.sessions.start(user.id)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        session_cookie_name(state), token, httponly=True, secure=state.secure_cookies, samesite="strict", path="/"
    )
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, state: State, principal: Annotated[Principal, Depends(authenticate)]) -> Response:
    """End the session on the server and drop the cookie."""
    token = getattr(request.state, "session_token", None)
    if token:
        state.sessions.end(token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(session_cookie_name(state), path="/", secure=state.secure_cookies, httponly=True)
    return response


@router.post("/language")
async def switch_language(
    request: Request, state: State, locale: Annotated[str, Form(max_length=8)], back: Annotated[str, Form()] = "/"
) -> Response:
    """Switch the console's language (remembered for a signed-in user)."""
    if locale not in LOCALES:
        locale = locale_of(request)
    try:
        principal = await authenticate(request, state)
    except AuthenticationError:
        check_origin(request)
        principal = None
    if principal is not None and principal.user_id is not None:
        state.users.set_locale(principal.user_id, locale)
    response = RedirectResponse(back if back.startswith("/") and not back.startswith("//") else "/", 303)
    response.set_cookie(
        LANGUAGE_COOKIE, locale, httponly=True, samesite="strict", secure=state.secure_cookies, path="/"
    )
    return response


def _login_page(request: Request, error: str | None = None, *, status: int = 200) -> Response:
    token = secrets.token_urlsafe(32)
    response = render(request, "login.html", status, login_token=token, error=error)
    secure = request.app.state.web.secure_cookies
    response.set_cookie(
        LOGIN_COOKIE, token, httponly=True, secure=secure, samesite="strict", path="/login", max_age=3600
    )
    return response
