"""API tokens for integrations: 256 random bits shown once, stored as a SHA-256 digest, scoped and revocable.

A process trusts a token it has verified against the database for ``VERIFIED_FOR`` before asking again, so an
integration's requests cost no query each. Revoking through this process's ``ApiTokens`` takes effect at once;
a token revoked elsewhere (another ``hub serve`` worker, ``hub tokens revoke``) keeps working here for at most
``VERIFIED_FOR``. Expiry is checked on every request, cached or not.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from core.access.roles import ROLE_SCOPES, Principal, Role, Scope
from core.errors import InvalidInputError
from core.store import access as repo
from core.store.database import read_only

PREFIX = "mhk_"
TOKEN_BYTES = 32
VERIFIED_FOR = timedelta(seconds=5)
"""How long a process trusts a verified token without reading it again: the delay of a revocation elsewhere."""
MAX_VERIFIED = 1024  # tokens remembered per process; integrations are a handful, the bound is against floods
USED_EVERY = timedelta(minutes=1)  # write last_used_at at most this often


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


@dataclass(frozen=True)
class _Verified:
    """A token found valid in the database at ``checked_at``: who it is and until when it may be used."""

    principal: Principal
    checked_at: datetime
    expires_at: datetime | None


class ApiTokens:
    """Issues, resolves, lists and revokes API tokens."""

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        verified_for: timedelta = VERIFIED_FOR,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.verified_for = verified_for
        self._verified: dict[bytes, _Verified] = {}  # by token digest, oldest first
        self._revocations = 0  # a verification that began before a revocation here is not remembered
        self._lock = threading.Lock()  # tokens are resolved on the event loop and in worker threads

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
        """The principal of a valid token, or ``None`` (unknown, revoked or expired).

        Read from the database unless this process verified the token within ``verified_for``.
        """
        return self.recently_verified(token) or self._verify(token)

    def recently_verified(self, token: str) -> Principal | None:
        """The principal of a token this process verified within ``verified_for``, without reading the database.

        ``None`` when it did not, or the token has expired since: ``resolve`` then asks the database.
        """
        if not token.startswith(PREFIX):
            return None
        digest, now = _digest(token), self.clock()
        with self._lock:
            known = self._verified.get(digest)
        if known is None or not known.checked_at <= now < known.checked_at + self.verified_for:
            return None
        if known.expires_at is not None and known.expires_at <= now:
            return None
        return known.principal

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
        """Stop a token from working: at once in this process, within ``verified_for`` in the others."""
        with self.engine.begin() as conn:
            if not repo.update_token(conn, name, revoked_at=self.clock()):
                raise InvalidInputError(f"no API token named {name!r}")
        with self._lock:
            self._revocations += 1
            for digest in [d for d, known in self._verified.items() if known.principal.name == name]:
                del self._verified[digest]

    def _verify(self, token: str) -> Principal | None:
        """Read the token from the database; remember it when valid, and note its use at most once a minute."""
        if not token.startswith(PREFIX):
            return None
        digest, now, revocations = _digest(token), self.clock(), self._revocations
        # begin(): the read ends in COMMIT; psycopg forgets its prepared statements on ROLLBACK
        with read_only(self.engine).begin() as conn:
            row = repo.token_by_digest(conn, digest)
        if row is None or row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
            return None
        if row.last_used_at is None or now - row.last_used_at > USED_EVERY:
            with self.engine.begin() as conn:
                repo.mark_token_used(conn, row.id, now)
        scopes = frozenset(Scope(s) for s in row.scopes) & ROLE_SCOPES[Role(row.role)]
        principal = Principal(row.name, Role(row.role), scopes, "token")
        self._remember(digest, _Verified(principal, now, row.expires_at), revocations)
        return principal

    def _remember(self, digest: bytes, verified: _Verified, revocations: int) -> None:
        with self._lock:
            if revocations != self._revocations:  # read before a revocation here committed: maybe that token
                return
            self._verified.pop(digest, None)
            while len(self._verified) >= MAX_VERIFIED:
                del self._verified[next(iter(self._verified))]
            self._verified[digest] = verified


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
