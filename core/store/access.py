"""SQL for console access: users, sessions, API tokens and failed sign-ins.

Secrets handed out (session cookies, API tokens) are stored only as SHA-256 digests; passwords only as argon2
hashes. Nothing here decides anything — ``core.access`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Integer, Row, Select, bindparam, delete, func, insert, select, update

from core.store.models import ApiToken, AuditEvent, ConsoleSession, ConsoleUser, LoginAttempt, table_of

USERS = table_of(ConsoleUser)
SESSIONS = table_of(ConsoleSession)
TOKENS = table_of(ApiToken)
ATTEMPTS = table_of(LoginAttempt)
AUDIT = table_of(AuditEvent)


# ── users ────────────────────────────────────────────────────────────────────────────────────────


def insert_user(conn: Connection, values: dict[str, Any]) -> int:
    """Add a console user; returns its id."""
    return int(conn.execute(insert(USERS).values(**values).returning(USERS.c.id)).scalar_one())


def user_by_name(conn: Connection, username: str) -> Row[Any] | None:
    """The user with this name, or ``None``."""
    return conn.execute(select(USERS).where(USERS.c.username == username)).first()


def user_by_id(conn: Connection, user_id: int) -> Row[Any] | None:
    """The user with this id, or ``None``."""
    return conn.execute(select(USERS).where(USERS.c.id == user_id)).first()


def all_users(conn: Connection) -> Sequence[Row[Any]]:
    """Every console user, by name."""
    return conn.execute(select(USERS).order_by(USERS.c.username)).all()


def update_user(conn: Connection, user_id: int, **values: object) -> int:
    """Change columns of one user; returns rows changed (0 if no such user)."""
    return conn.execute(update(USERS).where(USERS.c.id == user_id).values(**values)).rowcount


# ── sessions ─────────────────────────────────────────────────────────────────────────────────────


def insert_session(conn: Connection, values: dict[str, Any]) -> None:
    """Store a new session under its token digest."""
    conn.execute(insert(SESSIONS).values(**values))


def live_session(conn: Connection, digest: bytes, now: datetime) -> Row[Any] | None:
    """The session with this digest joined with its user, if it has neither ended nor expired."""
    return conn.execute(_LIVE_SESSION, {"digest": digest, "now": now}).first()


def touch_session(conn: Connection, session_id: int, now: datetime) -> None:
    """Record activity on a session (idle timeout counts from here)."""
    conn.execute(update(SESSIONS).where(SESSIONS.c.id == session_id).values(last_seen_at=now))


def end_sessions(conn: Connection, now: datetime, *, digest: bytes | None = None, user_id: int | None = None) -> int:
    """End one session (by digest) or every live session of a user; returns sessions ended."""
    query = update(SESSIONS).where(SESSIONS.c.ended_at.is_(None)).values(ended_at=now)
    if digest is not None:
        query = query.where(SESSIONS.c.token_digest == digest)
    if user_id is not None:
        query = query.where(SESSIONS.c.user_id == user_id)
    return conn.execute(query).rowcount


# ── API tokens ───────────────────────────────────────────────────────────────────────────────────


def insert_token(conn: Connection, values: dict[str, Any]) -> int:
    """Store a new API token (its digest); returns its id."""
    return int(conn.execute(insert(TOKENS).values(**values).returning(TOKENS.c.id)).scalar_one())


def token_by_digest(conn: Connection, digest: bytes) -> Row[Any] | None:
    """The token with this digest, revoked or not."""
    return conn.execute(_TOKEN_BY_DIGEST, {"digest": digest}).first()


def all_tokens(conn: Connection) -> Sequence[Row[Any]]:
    """Every API token (digests included; callers show only names and dates)."""
    return conn.execute(select(TOKENS).order_by(TOKENS.c.name)).all()


def update_token(conn: Connection, name: str, **values: object) -> int:
    """Change columns of one token by name; returns rows changed."""
    return conn.execute(update(TOKENS).where(TOKENS.c.name == name).values(**values)).rowcount


def mark_token_used(conn: Connection, token_id: int, now: datetime) -> None:
    """Record when a token was last used."""
    conn.execute(update(TOKENS).where(TOKENS.c.id == token_id).values(last_used_at=now))


# ── failed sign-ins ──────────────────────────────────────────────────────────────────────────────


def insert_failed_login(conn: Connection, username_digest: bytes, client_digest: bytes, now: datetime) -> None:
    """Count one failed sign-in."""
    conn.execute(
        insert(ATTEMPTS).values(username_digest=username_digest, client_digest=client_digest, attempted_at=now)
    )


def failed_logins_since(conn: Connection, since: datetime, *, username: bytes, client: bytes) -> tuple[int, int]:
    """Failed sign-ins since ``since`` for this user name digest and for this client digest."""
    recent = ATTEMPTS.c.attempted_at >= since
    by_name = select(func.count()).where(recent, ATTEMPTS.c.username_digest == username).scalar_subquery()
    by_client = select(func.count()).where(recent, ATTEMPTS.c.client_digest == client).scalar_subquery()
    row = conn.execute(select(by_name, by_client)).one()
    return int(row[0]), int(row[1])


def failed_login_times_since(
    conn: Connection, since: datetime, *, username: bytes | None = None, client: bytes | None = None
) -> list[datetime]:
    """When the failed sign-ins since ``since`` of this user name (or this client) happened, oldest first."""
    key = ATTEMPTS.c.username_digest == username if username is not None else ATTEMPTS.c.client_digest == client
    when = ATTEMPTS.c.attempted_at
    return list(conn.execute(select(when).where(when >= since, key).order_by(when)).scalars())


def forget_failed_logins(conn: Connection, username_digest: bytes, before: datetime) -> None:
    """Drop a user name's failed sign-ins after a success, and everyone's older than ``before``."""
    conn.execute(delete(ATTEMPTS).where(ATTEMPTS.c.username_digest == username_digest))
    conn.execute(delete(ATTEMPTS).where(ATTEMPTS.c.attempted_at < before))


# ── audit ────────────────────────────────────────────────────────────────────────────────────────


def nth_latest_action_since(conn: Connection, actor: str, action: str, since: datetime, n: int) -> datetime | None:
    """When ``actor`` performed ``action`` for the ``n``-th time counting back, if at or after ``since``, else ``None``.

    For per-operator rate limits: one row read along the ``(actor, action, occurred_at)`` index, where reading
    every time since ``since`` would bring back an operator's hundreds of openings in an hour.
    """
    parameters = {"actor": actor, "action": action, "since": since, "skip": n - 1}
    found: datetime | None = conn.execute(_NTH_LATEST_ACTION, parameters).scalar()
    return found


# ── statements of every request, built once: building one costs more than running it ─────────────────

_NTH_LATEST_ACTION = (
    select(AUDIT.c.occurred_at)
    .where(
        AUDIT.c.actor == bindparam("actor"),
        AUDIT.c.action == bindparam("action"),
        AUDIT.c.occurred_at >= bindparam("since", type_=AUDIT.c.occurred_at.type),
    )
    .order_by(AUDIT.c.occurred_at.desc())
    .offset(bindparam("skip", type_=Integer()))
    .limit(1)
)
_TOKEN_BY_DIGEST = select(TOKENS).where(TOKENS.c.token_digest == bindparam("digest", type_=TOKENS.c.token_digest.type))
_LIVE_SESSION: Select[Any] = (
    select(
        SESSIONS.c.id.label("session_id"), SESSIONS.c.user_id, SESSIONS.c.last_seen_at,
        USERS.c.username, USERS.c.role, USERS.c.locale, USERS.c.disabled_at,
    )
    .join(USERS, USERS.c.id == SESSIONS.c.user_id)
    .where(
        SESSIONS.c.token_digest == bindparam("digest", type_=SESSIONS.c.token_digest.type),
        SESSIONS.c.ended_at.is_(None),
        SESSIONS.c.expires_at > bindparam("now", type_=SESSIONS.c.expires_at.type),
    )
)  # fmt: skip
