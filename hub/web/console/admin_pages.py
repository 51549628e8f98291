"""The administrator's pages: console users and API tokens, and the audit log with its CSV download.

User names and token names travel in form bodies, never in URLs. A newly issued token is shown on the page
that answers the form, once; it is never stored, so it cannot be shown again.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from core.access import Principal, Role, Scope
from core.errors import InvalidInputError
from core.members.audit_export import TOKYO, audit_csv, audit_rows_since, parse_since
from hub.web.api.admin import add_user, disable_user, issue_token, revoke_token
from hub.web.auth import require
from hub.web.pages import render
from hub.web.state import WebState, web_state

router = APIRouter(include_in_schema=False)
Admin = Annotated[Principal, Depends(require(Role.ADMIN, Scope.ADMIN))]
State = Annotated[WebState, Depends(web_state)]
Name = Annotated[str, Form(max_length=64)]
Since = Annotated[date | None, Query(description="first day shown, Japan time")]
AUDIT_ROWS_SHOWN = 500
AUDIT_DAYS_SHOWN = 7


@router.get("/admin/users")
def users_page(request: Request, principal: Admin, state: State) -> Response:
    """Users and tokens, with the forms to add, disable, issue and revoke."""
    return _users_page(request, state)


@router.post("/admin/users")
def add_user_form(
    request: Request,
    principal: Admin,
    state: State,
    username: Name,
    password: Annotated[str, Form(max_length=1024)],
    role: Annotated[Role, Form()],
    locale: Annotated[str, Form(max_length=8)] = "ja",
) -> Response:
    """Add a console user."""
    try:
        add_user(state, principal, request, username, password, role, locale)
    except InvalidInputError as error:
        return _users_page(request, state, error=str(error), status=422)
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users/disable")
def disable_user_form(request: Request, principal: Admin, state: State, username: Name) -> Response:
    """Disable a console user; their sessions end at once."""
    disable_user(state, principal, request, username)
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/tokens")
def issue_token_form(
    request: Request,
    principal: Admin,
    state: State,
    name: Name,
    role: Annotated[Role, Form()],
    scopes: Annotated[list[Scope], Form(alias="scope")],
    expires_days: Annotated[int | None, Form(ge=1, le=3650)] = None,
) -> Response:
    """Issue an API token and show its value on this page, this once."""
    expires_at = state.hub.members.clock() + timedelta(days=expires_days) if expires_days else None
    try:
        value = issue_token(state, principal, request, name, role, scopes, expires_at)
    except InvalidInputError as error:
        return _users_page(request, state, error=str(error), status=422)
    return _users_page(request, state, issued=(name, value))


@router.post("/admin/tokens/revoke")
def revoke_token_form(request: Request, principal: Admin, state: State, name: Name) -> Response:
    """Revoke an API token; it stops working at once."""
    revoke_token(state, principal, request, name)
    return RedirectResponse("/admin/users", status_code=303)


@router.get("/admin/audit")
def audit_page(request: Request, principal: Admin, state: State, since: Since = None) -> Response:
    """The latest audit rows since a day (a week ago by default), newest first."""
    first_day = since or _days_ago(state, AUDIT_DAYS_SHOWN)
    rows = audit_rows_since(state.hub.engine, parse_since(first_day.isoformat()))
    shown = rows[::-1][:AUDIT_ROWS_SHOWN]
    return render(request, "admin_audit.html", rows=shown, total=len(rows), since=first_day)


@router.get("/admin/audit.csv")
def audit_download(principal: Admin, state: State, since: Since = None) -> Response:
    """The audit rows since a day as a CSV file, oldest first."""
    first_day = since or _days_ago(state, AUDIT_DAYS_SHOWN)
    rows = audit_rows_since(state.hub.engine, parse_since(first_day.isoformat()))
    disposition = f'attachment; filename="memberhub-audit-since-{first_day:%Y%m%d}.csv"'
    return Response(audit_csv(rows), media_type="text/csv; charset=utf-8", headers={"content-disposition": disposition})


def _users_page(
    request: Request, state: WebState, *, error: str | None = None, issued: tuple[str, str] | None = None,
    status: int = 200,
) -> Response:  # fmt: skip
    return render(
        request, "admin_users.html", status, users=state.users.all(), tokens=state.tokens.all(), roles=list(Role),
        scopes=list(Scope), error=error, issued=issued,
    )  # fmt: skip


def _days_ago(state: WebState, days: int) -> date:
    today: datetime = state.hub.members.clock().astimezone(TOKYO)
    return (today - timedelta(days=days)).date()
