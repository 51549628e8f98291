"""``/api/v1/admin`` and ``/api/v1/audit``: console users, API tokens and the audit log, for administrators.

Every change to a user or a token is itself written to the audit log (who, which account, when), so a token
issued to an integration can always be traced to the administrator who issued it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from core.access import ApiTokenInfo, ConsoleUser, Principal, Role, Scope
from core.members.audit import record_member_access
from core.members.audit_export import AuditRow, audit_rows_since, parse_since
from hub.web.auth import require
from hub.web.state import WebState, request_id, web_state

router = APIRouter(prefix="/api/v1", tags=["admin"])
Admin = Annotated[Principal, Depends(require(Role.ADMIN, Scope.ADMIN))]
State = Annotated[WebState, Depends(web_state)]
NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{1,63}$"


class UserView(BaseModel):
    """A console user as admins see it (never the password hash)."""

    username: str
    role: Role
    locale: str
    created_at: datetime
    disabled_at: datetime | None


class NewUser(BaseModel):
    """A console user to add; the password needs 12 to 128 characters."""

    model_config = ConfigDict(extra="forbid")
    username: str = Field(pattern=NAME_PATTERN)
    password: SecretStr = Field(max_length=1024)
    role: Role
    locale: str = Field(default="ja", pattern=r"^(ja|en)$")


class TokenView(BaseModel):
    """An API token as admins see it (never its value)."""

    name: str
    role: Role
    scopes: list[Scope]
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewToken(BaseModel):
    """An API token to issue: a role, the scopes it may use (within the role's), an optional lifetime."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=NAME_PATTERN)
    role: Role
    scopes: list[Scope] = Field(min_length=1)
    expires_days: int | None = Field(default=None, ge=1, le=3650)


class IssuedToken(BaseModel):
    """A new token; ``token`` is shown this once and never stored."""

    name: str
    role: Role
    scopes: list[Scope]
    expires_at: datetime | None
    token: str


class AuditPage(BaseModel):
    """Audit rows since a moment, oldest first; ``truncated`` when more follow the last one."""

    events: list[AuditRow]
    truncated: bool


@router.get("/admin/users", response_model=list[UserView])
def users(principal: Admin, state: State) -> list[UserView]:
    """Every console user, by name."""
    return [user_view(user) for user in state.users.all()]


@router.post("/admin/users", response_model=UserView, status_code=201)
def create_user(body: NewUser, principal: Admin, state: State, request: Request) -> UserView:
    """Add a console user."""
    password = body.password.get_secret_value()
    return user_view(add_user(state, principal, request, body.username, password, body.role, body.locale))


@router.post("/admin/users/{username}/disable", status_code=204)
def disable(username: str, principal: Admin, state: State, request: Request) -> Response:
    """Stop a user from signing in and end their sessions at once."""
    disable_user(state, principal, request, username)
    return Response(status_code=204)


@router.get("/admin/tokens", response_model=list[TokenView])
def tokens(principal: Admin, state: State) -> list[TokenView]:
    """Every API token, by name (never their values)."""
    return [token_view(token) for token in state.tokens.all()]


@router.post("/admin/tokens", response_model=IssuedToken, status_code=201)
def create_token(body: NewToken, principal: Admin, state: State, request: Request) -> IssuedToken:
    """Issue an API token; its value is in this answer only."""
    expires_at = state.hub.members.clock() + timedelta(days=body.expires_days) if body.expires_days else None
    value = issue_token(state, principal, request, body.name, body.role, body.scopes, expires_at)
    return IssuedToken(name=body.name, role=body.role, scopes=body.scopes, expires_at=expires_at, token=value)


@router.post("/admin/tokens/{name}/revoke", status_code=204)
def revoke(name: str, principal: Admin, state: State, request: Request) -> Response:
    """Stop a token from working, at once."""
    revoke_token(state, principal, request, name)
    return Response(status_code=204)


@router.get("/audit", response_model=AuditPage)
def audit(
    principal: Admin,
    state: State,
    since: Annotated[str, Query(max_length=40, description="YYYY-MM-DD or ISO 8601; Japan time without offset")],
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> AuditPage:
    """Audit rows at or after ``since``, oldest first; continue from the last row's time when truncated."""
    rows = audit_rows_since(state.hub.engine, parse_since(since))
    return AuditPage(events=rows[:limit], truncated=len(rows) > limit)


def add_user(
    state: WebState, principal: Principal, request: Request, username: str, password: str, role: Role, locale: str
) -> ConsoleUser:
    """Add a console user and audit the change."""
    user = state.users.add(username, password, role, locale=locale)
    _audit(state, principal, request, "user_add", username=user.username, role=user.role.value)
    return user


def disable_user(state: WebState, principal: Principal, request: Request, username: str) -> None:
    """Disable a console user (their sessions end) and audit the change."""
    state.users.disable(username)
    _audit(state, principal, request, "user_disable", username=username)


def issue_token(
    state: WebState,
    principal: Principal,
    request: Request,
    name: str,
    role: Role,
    scopes: list[Scope],
    expires_at: datetime | None,
) -> str:
    """Issue an API token and audit the change; returns the token's value."""
    value = state.tokens.issue(name, role, scopes, created_by=principal.actor.name, expires_at=expires_at)
    _audit(state, principal, request, "token_issue", token=name, role=role.value)
    return value


def revoke_token(state: WebState, principal: Principal, request: Request, name: str) -> None:
    """Revoke an API token and audit the change."""
    state.tokens.revoke(name)
    _audit(state, principal, request, "token_revoke", token=name)


def user_view(user: ConsoleUser) -> UserView:
    """A console user as the API lists it."""
    return UserView.model_validate(user, from_attributes=True)


def token_view(token: ApiTokenInfo) -> TokenView:
    """An API token as the API lists it."""
    return TokenView.model_validate(token, from_attributes=True)


def _audit(state: WebState, principal: Principal, request: Request, action: str, **detail: object) -> None:
    record_member_access(state.hub.engine, principal.actor, action, None, request_id=request_id(request), detail=detail)
