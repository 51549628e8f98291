"""The per-operator limit on member openings: a burst of openings is how a leak looks from the inside."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import Connection, Engine

from core.access.roles import Principal
from core.errors import RateLimitedError
from core.store import access as repo
from core.store.database import read_only

log = structlog.get_logger(__name__)
WINDOW = timedelta(hours=1)


class OpeningLimit:
    """At most ``per_hour`` member openings by one principal in any hour."""

    def __init__(
        self, engine: Engine, per_hour: int, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.engine = engine
        self.per_hour = per_hour
        self.clock = clock

    def check(self, principal: Principal, *, conn: Connection | None = None) -> None:
        """Raise ``RateLimitedError`` (and log an alert) when the principal has used up this hour's openings.

        Reads in ``conn``'s transaction when given: the request's, which also reads the member and audits it.
        """
        now = self.clock()
        actor = principal.actor.name
        if conn is None:
            with read_only(self.engine).begin() as own:
                oldest_counted = repo.nth_latest_action_since(own, actor, "open", now - WINDOW, self.per_hour)
        else:
            oldest_counted = repo.nth_latest_action_since(conn, actor, "open", now - WINDOW, self.per_hour)
        if oldest_counted is None:
            return
        wait = max(1, int((oldest_counted + WINDOW - now).total_seconds()) + 1)
        log.warning("member_opening_limit_reached", actor=actor, role=principal.role.value, limit=self.per_hour)
        raise RateLimitedError(f"more than {self.per_hour} members opened in an hour", retry_after=wait)
