"""API tokens for integrations: 256 random bits shown once, stored as a SHA-256 digest, scoped and revocable."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from core.access.roles import ROLE_SCOPES, Principal, Role, Scope
from core.errors import InvalidInputError
from core.store import access as repo

PREFIX = "mhk_"
TOKEN_BYTES = 32


@dataclass(frozen=True)
class ApiTokenInfo:
    """A token as listed to admins: never its value."""

    name: str
    role: Role
    scopes: tuple[Scope, ...]
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiTokens:
    """Issues, resolves, lists and revokes API tokens."""

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.engine = engine
        self.clock = clock

    def issue(
        self, name: str, role: Role, scopes: Iterable[str], *, created_by: str, expires_at: datetime | None = None
    ) -> str:
        """A new token; its value is returned once and never stored."""
        chosen = _checked_scopes(Role(role), scopes)
        token = PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
        values = {
            "name": name,
            "token_digest": _digest(token),
            "role": Role(role).value,
            "scopes": sorted(chosen),
            "created_by": created_by,
            "created_at": self.clock(),
            "expires_at": expires_at,
        }
        try:
            with self.engine.begin() as conn:
                repo.insert_token(conn, values)
        except IntegrityError:
            raise InvalidInputError(f"an API token named {name!r} exists already") from None
        return token

    def resolve(self, token: str) -> Principal | None:
        """The principal of a valid token, or ``None`` (unknown, revoked or expired)."""
        if not token.startswith(PREFIX):
            return None
        now = self.clock()
        with self.engine.connect() as conn:
            row = repo.token_by_digest(conn, _digest(token))
        if row is None or row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
            return None
        if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
            with self.engine.begin() as conn:
                repo.mark_token_used(conn, row.id, now)
        scopes = frozenset(Scope(s) for s in row.scopes) & ROLE_SCOPES[Role(row.role)]
        return Principal(row.name, Role(row.role), scopes, "token")

    def all(self) -> list[ApiTokenInfo]:
        """Every token, by name."""
        with self.engine.connect() as conn:
            rows = repo.all_tokens(conn)
        return [
            ApiTokenInfo(
                r.name, Role(r.role), tuple(Scope(s) for s in r.scopes), r.created_by, r.created_at, r.expires_at,
                r.last_used_at, r.revoked_at,
            )
            for r in rows
        ]  # fmt: skip

    def revoke(self, name: str) -> None:
        """Stop a token from working, at once."""
        with self.engine.begin() as conn:
            if not repo.update_token(conn, name, revoked_at=self.clock()):
                raise InvalidInputError(f"no API token named {name!r}")


def _checked_scopes(role: Role, scopes: Iterable[str]) -> set[Scope]:
    try:
        chosen = {Scope(s) for s in scopes}
    except ValueError as error:
        raise InvalidInputError(f"unknown scope: {error}; known: {', '.join(Scope)}") from None
    if not chosen:
        raise InvalidInputError("an API token needs at least one scope")
    beyond = chosen - ROLE_SCOPES[role]
    if beyond:
        raise InvalidInputError(f"role {role} does not allow {', '.join(sorted(beyond))}")
    return chosen


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
