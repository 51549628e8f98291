"""When and how long to retry a call to an external system, built on tenacity (DESIGN §4 Retry).

Only transient failures are retried: :class:`RetryableError` and the httpx timeouts and network errors
that escape a client. The wait is full-jitter exponential backoff, raised to the server's ``Retry-After``
when it asks for more, and capped at ``max_delay``; attempts and total time are both bounded.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx
import tenacity

from core.errors import RetryableError
from core.logs import get_logger

__all__ = ["TRANSIENT_EXCEPTIONS", "RetryEvent", "RetryPolicy", "parse_retry_after", "retrying"]

TRANSIENT_EXCEPTIONS: tuple[type[BaseException], ...] = (
    RetryableError,
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
    httpx.ProxyError,
)
"""What is retried; other httpx transport errors (unsupported protocol, a malformed request) are bugs."""

_log = get_logger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to retry: attempts in all, first backoff window, longest single wait, whole budget (s)."""

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 60.0
    max_total: float = 300.0


@dataclass(frozen=True)
class RetryEvent:
    """One scheduled retry, for metrics and logs; nothing in it is personal data."""

    attempt: int
    delay: float
    status: int | None
    error_class: str


def retrying(
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[RetryEvent], None] | None = None,
) -> tenacity.Retrying:
    """A tenacity controller applying ``policy``; call it with a function, or iterate it for attempts.

    The last error is re-raised as it is once attempts or time run out. ``sleep`` is injectable so tests
    run without waiting; ``on_retry`` hears about every retry before its wait.
    """
    return tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(TRANSIENT_EXCEPTIONS),
        wait=_backoff_honouring_retry_after(policy),
        stop=tenacity.stop_after_attempt(policy.max_attempts) | _TotalBudgetSpent(policy.max_total),
        sleep=sleep,
        before_sleep=_report_retry(on_retry),
        reraise=True,
    )


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP-date (RFC 9110 §10.2.3).

    A date in the past means "now" (0.0); a missing or unreadable value gives ``None``.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        return _seconds_until_http_date(text, now)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _seconds_until_http_date(text: str, now: datetime) -> float | None:
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # the obsolete asctime form carries no zone; HTTP-dates are always GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _backoff_honouring_retry_after(policy: RetryPolicy) -> Callable[[tenacity.RetryCallState], float]:
    """max(server's Retry-After, full-jitter backoff), never more than ``max_delay``."""
    # Full jitter (AWS): rand(0, min(max_delay, base_delay * 2^(attempt-1))).
    backoff = tenacity.wait_random_exponential(multiplier=policy.base_delay, max=policy.max_delay)
    asked = tenacity.wait_exception(lambda error: getattr(error, "retry_after", None) or 0.0)

    def wait(retry_state: tenacity.RetryCallState) -> float:
        return min(policy.max_delay, max(asked(retry_state), backoff(retry_state)))

    return wait


class _TotalBudgetSpent(tenacity.stop.stop_base):
    """Stop when the next wait would end beyond ``max_total`` seconds after the first attempt."""

    def __init__(self, max_total: float) -> None:
        self.max_total = max_total

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        # idle_for sums the waits tenacity asked for, so the budget holds with an injected sleep as well;
        # the wall clock also counts the time the requests themselves took.
        elapsed = max(retry_state.seconds_since_start or 0.0, retry_state.idle_for)
        return elapsed + retry_state.upcoming_sleep > self.max_total


def _report_retry(
    on_retry: Callable[[RetryEvent], None] | None,
) -> Callable[[tenacity.RetryCallState], None]:
    def before_sleep(retry_state: tenacity.RetryCallState) -> None:
        assert retry_state.outcome is not None
        error = retry_state.outcome.exception()
        event = RetryEvent(
            attempt=retry_state.attempt_number,
            delay=retry_state.upcoming_sleep,
            status=getattr(error, "status", None),
            error_class=type(error).__name__,
        )
        _log.info(
            "retry scheduled",
            attempt=event.attempt,
            status=event.status,
            error_class=event.error_class,
            duration_ms=round(event.delay * 1000),  # the wait before the next attempt
        )
        if on_retry is not None:
            on_retry(event)

    return before_sleep
