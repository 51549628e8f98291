"""The per-operator limit on member openings: a burst of openings is how a leak looks from the inside."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import Engine

from core.access.roles import Principal
from core.errors import RateLimitedError
from core.store import access as repo

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

    def check(self, principal: Principal) -> None:
        """Raise ``RateLimitedError`` (and log an alert) when the principal has used up this hour's openings."""
        now = self.clock()
        actor = principal.actor.name
        with self.engine.connect() as conn:
            openings = repo.audited_actions_since(conn, actor, "open", now - WINDOW)
        if len(openings) < self.per_hour:
            return
        wait = max(1, int((openings[-self.per_hour] + WINDOW - now).total_seconds()) + 1)
        log.warning("member_opening_limit_reached", actor=actor, role=principal.role.value, limit=self.per_hour)
        raise RateLimitedError(f"more than {self.per_hour} members opened in an hour", retry_after=wait)
