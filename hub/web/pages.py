"""Rendering console pages: Jinja2 templates (autoescaped) with the user's language and CSRF token."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from core.access import Principal, csrf_token
from core.members.masking import format_phone, mask_email, mask_phone
from hub.web.i18n import LOCALES, catalog, negotiate, translate

TOKYO = ZoneInfo("Asia/Tokyo")
LANGUAGE_COOKIE = "memberhub_lang"
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
templates.env.filters.update(
    jst=lambda moment, fmt="%Y-%m-%d %H:%M": moment.astimezone(TOKYO).strftime(fmt) if moment else "",
    yen=lambda amount: f"¥{amount:,}" if amount is not None else "",
    points=lambda value: f"{value:,}",
    signed=lambda value: f"{value:+,}",
    mask_email=lambda value: mask_email(value) if value else "",
    mask_phone=lambda value: mask_phone(value) if value else "",
    phone=lambda value: format_phone(value) if value else "",
)


def locale_of(request: Request) -> str:
    """The signed-in user's language, else the language cookie, else what the browser asks for."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is not None and principal.kind == "user":
        return principal.locale
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    return chosen if chosen in LOCALES else negotiate(request.headers.get("accept-language"))


def render(request: Request, template: str, http_status: int = 200, **context: Any) -> HTMLResponse:
    """A console page in the user's language (``http_status`` is the response's, not a template variable)."""
    locale = locale_of(request)
    session = getattr(request.state, "session_token", None)
    values = {
        "principal": getattr(request.state, "principal", None),
        "locale": locale,
        "locales": LOCALES,
        "_": lambda key, **kw: translate(locale, key, **kw),
        "csrf_token": csrf_token(session) if session else "",
        "now": datetime.now(TOKYO),
        **context,
    }
    return templates.TemplateResponse(request, template, values, status_code=http_status)


def render_error(request: Request, status: int, code: str, message: str, headers: dict[str, str]) -> HTMLResponse:
    """The console's error page: what happened in the user's language, then the error's own (English) line."""
    locale = locale_of(request)
    known = catalog(locale)
    headline = next(
        (known[key] for key in (f"error.code.{code}", f"error.status.{status}") if key in known),
        translate(locale, "error.code.error"),
    )
    response = render(request, "error.html", status, status_code=status, headline=headline, message=message)
    response.headers.update(headers)
    return response
