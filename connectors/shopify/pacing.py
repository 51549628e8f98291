"""Cost-aware pacing: wait for the leaky bucket before a query it cannot pay for yet, and count every wait.

Every answer reports ``extensions.cost``: the query's ``requestedQueryCost`` and the bucket's
``throttleStatus`` (``maximumAvailable``, ``currentlyAvailable``, ``restoreRate`` points a second). The bucket
refills linearly, so the points available now are the last reported plus the time since times the restore
rate, and a query of cost *c* can run after ``(c − available) / restoreRate`` seconds (shopify.dev "GraphQL
Admin API rate limits"). Pages of one stream repeat one query, so the last answer's requested cost for that
query is the next one's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass
class PacingStats:
    """What pacing and throttling cost a client: for a benchmark's report and the run log (no personal data)."""

    queries: int = 0
    requested_cost: int = 0
    actual_cost: int = 0
    paced: int = 0
    paced_s: float = 0.0
    """Waits before a query the bucket could not pay for yet."""
    throttled: int = 0
    throttled_wait_s: float = 0.0
    """Waits after a THROTTLED answer, before the query was sent again."""
    retry_wait_s: float = 0.0
    """Waits before retrying any other transient failure (5xx, timeouts)."""

    @property
    def waited_s(self) -> float:
        """Every second spent waiting, for whatever reason."""
        return self.paced_s + self.throttled_wait_s + self.retry_wait_s


@dataclass(frozen=True)
class ThrottleStatus:
    """The bucket as one answer reported it, and when (``clock`` seconds) that answer arrived."""

    maximum: float
    available: float
    restore_rate: float
    observed_at: float

    def available_at(self, now: float) -> float:
        """Points in the bucket at ``now``, refilled since the report."""
        return min(self.maximum, self.available + max(0.0, now - self.observed_at) * self.restore_rate)

    def wait_for(self, cost: float, now: float) -> float:
        """Seconds until the bucket holds ``cost`` points (0 if it already does)."""
        missing = cost - self.available_at(now)
        return missing / self.restore_rate if missing > 0 and self.restore_rate > 0 else 0.0


class CostPacer:
    """Remembers the bucket and each query's requested cost; sleeps before a query the bucket cannot pay for."""

    def __init__(self, *, sleep: Callable[[float], None], clock: Callable[[], float]) -> None:
        self._sleep = sleep
        self._clock = clock
        self._status: ThrottleStatus | None = None
        self._costs: dict[str, int] = {}
        self.stats = PacingStats()

    def before(self, query_key: str) -> None:
        """Wait, if needed, until the bucket can pay for ``query_key`` as it was last charged."""
        self.stats.queries += 1
        cost = self._costs.get(query_key)
        if cost is None or self._status is None:
            return
        wait = self._status.wait_for(cost, self._clock())
        if wait > 0:
            self.stats.paced += 1
            self.stats.paced_s += wait
            self._sleep(wait)

    def observe(self, query_key: str, extensions: Any) -> None:
        """Take in an answer's ``extensions`` (anything unreadable is ignored: pacing is best effort)."""
        cost = extensions.get("cost") if isinstance(extensions, Mapping) else None
        if not isinstance(cost, Mapping):
            return
        requested, actual = cost.get("requestedQueryCost"), cost.get("actualQueryCost")
        if isinstance(requested, int):
            self._costs[query_key] = requested
            self.stats.requested_cost += requested
        if isinstance(actual, int):
            self.stats.actual_cost += actual
        self._status = _status(cost.get("throttleStatus"), self._clock()) or self._status

    def throttled_wait(self, query_key: str) -> float:
        """How long a THROTTLED query must wait before it is sent again: until the bucket holds its cost.

        Never zero, so a THROTTLED answer from a bucket that looks full (another app shares it) still backs off.
        """
        self.stats.throttled += 1
        status, cost = self._status, self._costs.get(query_key)
        if status is None or cost is None or status.restore_rate <= 0:
            return 1.0
        return max(status.wait_for(cost, self._clock()), 1.0 / status.restore_rate)


def _status(raw: Any, now: float) -> ThrottleStatus | None:
    if not isinstance(raw, Mapping):
        return None
    values = [raw.get(key) for key in ("maximumAvailable", "currentlyAvailable", "restoreRate")]
    numbers = [float(value) for value in values if isinstance(value, int | float)]
    if len(numbers) != len(values):
        return None
    maximum, available, rate = numbers
    return ThrottleStatus(maximum, available, rate, now)
