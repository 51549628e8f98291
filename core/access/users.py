"""Console users: add, change password, disable, sign in.

Signing in answers the same way, after the same argon2 work, whether the name is unknown, the password wrong or
the user disabled; changing a password or disabling a user ends their sessions at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, Row
from sqlalchemy.exc import IntegrityError

from core.access.passwords import hash_password, needs_rehash, verify_password
from core.access.roles import ROLE_SCOPES, Principal, Role
from core.access.throttle import LoginThrottle
from core.errors import AuthenticationError, InvalidInputError
from core.store import access as repo

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
LOCALES = ("ja", "en")


@dataclass(frozen=True)
class ConsoleUser:
    """A console user as listed to admins (never the password hash)."""

    id: int
    username: str
    role: Role
    locale: str
    created_at: datetime
    disabled_at: datetime | None

    @property
    def principal(self) -> Principal:
        """The user acting with every scope of their role."""
        return Principal(self.username, self.role, ROLE_SCOPES[self.role], "user", self.id, self.locale)


class ConsoleUsers:
    """The console's user accounts."""

    def __init__(
        self,
        engine: Engine,
        *,
        throttle: LoginThrottle | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.throttle = throttle or LoginThrottle()
        self.clock = clock

    def add(self, username: str, password: str, role: Role, *, locale: str = "ja") -> ConsoleUser:
        """Create a user; the name is lower-case letters, digits, ``.``, ``_`` or ``-``."""
        values = {
            "username": _checked_name(username),
            "password_hash": hash_password(password),
            "role": Role(role).value,
            "locale": _checked_locale(locale),
            "created_at": self.clock(),
            "password_changed_at": self.clock(),
        }
        try:
            with self.engine.begin() as conn:
                user_id = repo.insert_user(conn, values)
                return _user(repo.user_by_id(conn, user_id))
        except IntegrityError:
            raise InvalidInputError(f"a console user named {username!r} exists already") from None

    def get(self, username: str) -> ConsoleUser:
        """The user of that name."""
        with self.engine.connect() as conn:
            row = repo.user_by_name(conn, username)
        if row is None:
            raise InvalidInputError(f"no console user named {username!r}")
        return _user(row)

    def all(self) -> list[ConsoleUser]:
        """Every user, by name."""
        with self.engine.connect() as conn:
            return [_user(row) for row in repo.all_users(conn)]

    def set_password(self, username: str, password: str) -> None:
        """Replace a user's password and end their sessions."""
        self._change(username, password_hash=hash_password(password), password_changed_at=self.clock())

    def set_locale(self, user_id: int, locale: str) -> None:
        """The language the console speaks to this user."""
        with self.engine.begin() as conn:
            repo.update_user(conn, user_id, locale=_checked_locale(locale))

    def disable(self, username: str) -> None:
        """Stop a user from signing in and end their sessions."""
        self._change(username, disabled_at=self.clock())

    def enable(self, username: str) -> None:
        """Let a disabled user sign in again."""
        self._change(username, disabled_at=None)

    def authenticate(self, username: str, password: str, client: str) -> ConsoleUser:
        """The user whose name and password these are; ``AuthenticationError`` for any reason not to sign in."""
        now = self.clock()
        with self.engine.begin() as conn:
            self.throttle.check(conn, username, client, now)
            row = repo.user_by_name(conn, username.strip().casefold())
        valid = verify_password(row.password_hash if row is not None else None, password)
        if row is None or not valid or row.disabled_at is not None:
            with self.engine.begin() as conn:  # committed before raising: a rolled-back failure would not count
                self.throttle.failed(conn, username, client, now)
            raise AuthenticationError("user name or password is wrong")
        rehashed = hash_password(password) if needs_rehash(row.password_hash) else None
        with self.engine.begin() as conn:
            self.throttle.succeeded(conn, username, now)
            if rehashed is not None:
                repo.update_user(conn, row.id, password_hash=rehashed)
        return _user(row)

    def _change(self, username: str, **values: object) -> None:
        with self.engine.begin() as conn:
            row = repo.user_by_name(conn, username)
            if row is None:
                raise InvalidInputError(f"no console user named {username!r}")
            repo.update_user(conn, row.id, **values)
            repo.end_sessions(conn, self.clock(), user_id=row.id)


def _user(row: Row[Any] | None) -> ConsoleUser:
    assert row is not None
    return ConsoleUser(row.id, row.username, Role(row.role), row.locale, row.created_at, row.disabled_at)


def _checked_name(username: str) -> str:
    if not USERNAME.fullmatch(username):
        raise InvalidInputError("a user name is 2-64 lower-case letters, digits, '.', '_' or '-'")
    return username


def _checked_locale(locale: str) -> str:
    if locale not in LOCALES:
        raise InvalidInputError(f"the console speaks {', '.join(LOCALES)}, not {locale!r}")
    return locale
