"""Throttling of failed console sign-ins, per user name and per client address.

Failures are counted in a sliding window; past the limit every attempt — right or wrong, for a known or an
unknown name — is refused until the oldest failure leaves the window, so throttling tells an attacker nothing
about which names exist. A success forgets that name's failures.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection

from core.errors import LoginThrottledError
from core.store import access as repo


@dataclass(frozen=True)
class LoginThrottle:
    """At most ``per_user`` failures per user name and ``per_client`` per client address in ``window``."""

    per_user: int = 10
    per_client: int = 20
    window: timedelta = timedelta(minutes=15)

    def check(self, conn: Connection, username: str, client: str, now: datetime) -> None:
        """Raise ``LoginThrottledError`` if this name or client has used up its failures."""
        since = now - self.window
        name_key, client_key = username_digest(username), client_digest(client)
        by_name, by_client = repo.failed_logins_since(conn, since, username=name_key, client=client_key)
        waits = []
        if by_name >= self.per_user:
            times = repo.failed_login_times_since(conn, since, username=name_key)
            waits.append(self._seconds_until_below(times, self.per_user, now))
        if by_client >= self.per_client:
            times = repo.failed_login_times_since(conn, since, client=client_key)
            waits.append(self._seconds_until_below(times, self.per_client, now))
        if waits:
            raise LoginThrottledError("too many failed sign-ins; try again later", retry_after=max(waits))

    def failed(self, conn: Connection, username: str, client: str, now: datetime) -> None:
        """Count a failed sign-in."""
        repo.insert_failed_login(conn, username_digest(username), client_digest(client), now)

    def succeeded(self, conn: Connection, username: str, now: datetime) -> None:
        """Forget this name's failures (and everyone's that left the window)."""
        repo.forget_failed_logins(conn, username_digest(username), now - self.window)

    def _seconds_until_below(self, times: list[datetime], limit: int, now: datetime) -> int:
        """Seconds until fewer than ``limit`` of these failures (oldest first) remain in the window."""
        freed_by = times[len(times) - limit]  # once this one leaves, limit - 1 remain
        return max(1, int((freed_by + self.window - now).total_seconds()) + 1)


def username_digest(username: str) -> bytes:
    """SHA-256 of a normalised user name: a password typed into the name field is not kept readable."""
    return hashlib.sha256(b"user:" + username.strip().casefold().encode()).digest()


def client_digest(client: str) -> bytes:
    """SHA-256 of a client address."""
    return hashlib.sha256(b"client:" + client.encode()).digest()
