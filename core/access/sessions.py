"""Console sessions: a random cookie value, stored only as its SHA-256 digest, ended server-side.

A session lasts at most ``lifetime`` (one call-center shift) and ends after ``idle`` without a request. Every
sign-in starts a new session (a session id is never carried over from before the sign-in). The CSRF token of a
form is derived from the session's secret, so it needs no storage and dies with the session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from core.access.roles import ROLE_SCOPES, Principal, Role
from core.store import access as repo
from core.store.database import read_only

TOKEN_BYTES = 32  # 256 bits


@dataclass(frozen=True)
class SessionPolicy:
    """How long a console session may live, and how long it may sit idle."""

    lifetime: timedelta = timedelta(hours=12)
    idle: timedelta = timedelta(minutes=30)
    touch_every: timedelta = timedelta(minutes=1)  # write last_seen_at at most this often


class Sessions:
    """Starts, resolves and ends console sessions."""

    def __init__(
        self,
        engine: Engine,
        policy: SessionPolicy | None = None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.policy = policy or SessionPolicy()
        self.clock = clock

    def start(self, user_id: int) -> str:
        """A new session for a user who just signed in; returns the cookie value."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = self.clock()
        values = {
            "token_digest": _digest(token),
            "user_id": user_id,
            "created_at": now,
            "last_seen_at": now,
            "expires_at": now + self.policy.lifetime,
        }
        with self.engine.begin() as conn:
            repo.insert_session(conn, values)
        return token

    def resolve(self, token: str) -> Principal | None:
        """The signed-in user of a live session, or ``None`` (unknown, ended, expired, idle or user disabled)."""
        now = self.clock()
        digest = _digest(token)
        # begin(): the read ends in COMMIT; psycopg forgets its prepared statements on ROLLBACK
        with read_only(self.engine).begin() as conn:
            row = repo.live_session(conn, digest, now)
        if row is None or row.disabled_at is not None:
            return None
        if now - row.last_seen_at > self.policy.idle:
            self.end(token)
            return None
        if now - row.last_seen_at > self.policy.touch_every:
            with self.engine.begin() as conn:
                repo.touch_session(conn, row.session_id, now)
        role = Role(row.role)
        return Principal(row.username, role, ROLE_SCOPES[role], "user", row.user_id, row.locale)

    def end(self, token: str) -> None:
        """End one session (sign-out)."""
        with self.engine.begin() as conn:
            repo.end_sessions(conn, self.clock(), digest=_digest(token))


def csrf_token(session_token: str) -> str:
    """The CSRF token of a session's forms: unguessable without the (HttpOnly) session cookie."""
    mac = hmac.new(session_token.encode(), b"memberhub csrf", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def csrf_matches(session_token: str, presented: str | None) -> bool:
    """Whether ``presented`` is this session's CSRF token (compared in constant time)."""
    return presented is not None and hmac.compare_digest(csrf_token(session_token), presented)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
