"""The retry policy: what is retried, how long it waits, when it gives up, and Retry-After parsing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from core.errors import PermanentError, RetryableError
from core.sync.retry import RetryEvent, RetryPolicy, parse_retry_after, retrying

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class FlakyCall:
    """A callable that raises the given errors in turn, then returns "done"; counts its calls."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("7", 7.0),
        (" 120 ", 120.0),
        ("0", 0.0),
        (format_datetime(NOW + timedelta(seconds=30), usegmt=True), 30.0),
        ("Tuesday, 01-Dec-26 09:00:45 GMT", 45.0),  # obsolete RFC 850 form
        ("Tue Dec  1 09:01:00 2026", 60.0),  # obsolete asctime form, no zone: GMT
        (format_datetime(NOW - timedelta(hours=1), usegmt=True), 0.0),  # in the past: retry now
    ],
)
def test_parse_retry_after_reads_seconds_and_http_dates(header: str, seconds: float) -> None:
    assert parse_retry_after(header, now=NOW) == seconds


@pytest.mark.parametrize("header", [None, "", "soon", "-5", "inf", "nan"])
def test_parse_retry_after_gives_none_for_missing_or_unreadable_values(header: str | None) -> None:
    assert parse_retry_after(header, now=NOW) is None


def test_retryable_errors_are_retried_until_the_call_succeeds() -> None:
    call = FlakyCall(RetryableError("503"), RetryableError("503"))

    assert retrying(RetryPolicy(), sleep=lambda _: None)(call) == "done"
    assert call.calls == 3


@pytest.mark.parametrize("error", [PermanentError("422", status=422), ValueError("a bug")])
def test_anything_but_a_transient_error_is_raised_at_once(error: Exception) -> None:
    call = FlakyCall(error)
    waits: list[float] = []

    with pytest.raises(type(error)):
        retrying(RetryPolicy(), sleep=waits.append)(call)
    assert call.calls == 1
    assert waits == []


@pytest.mark.parametrize("error", [httpx.ConnectTimeout("timed out"), httpx.ReadError("reset by peer")])
def test_httpx_timeouts_and_network_errors_that_escape_are_retried(error: Exception) -> None:
    call = FlakyCall(error)

    assert retrying(RetryPolicy(), sleep=lambda _: None)(call) == "done"
    assert call.calls == 2


def test_an_unsupported_protocol_is_a_bug_and_not_retried() -> None:
    call = FlakyCall(httpx.UnsupportedProtocol("ftp"))

    with pytest.raises(httpx.UnsupportedProtocol):
        retrying(RetryPolicy(), sleep=lambda _: None)(call)
    assert call.calls == 1


def test_the_wait_is_at_least_what_the_server_asked_for() -> None:
    waits: list[float] = []

    retrying(RetryPolicy(), sleep=waits.append)(FlakyCall(RetryableError("429", retry_after=7.0)))

    assert len(waits) == 1
    assert waits[0] >= 7.0


def test_a_retry_after_beyond_max_delay_is_capped() -> None:
    waits: list[float] = []

    call = FlakyCall(RetryableError("429", retry_after=3600))

    retrying(RetryPolicy(max_delay=60.0), sleep=waits.append)(call)

    assert waits == [60.0]


def test_backoff_is_full_jitter_within_the_exponential_window() -> None:
    policy = RetryPolicy(max_attempts=9, base_delay=0.5, max_delay=4.0, max_total=1000.0)
    waits: list[float] = []

    with pytest.raises(RetryableError):
        retrying(policy, sleep=waits.append)(FlakyCall(*[RetryableError("503")] * 9))

    assert len(waits) == 8
    for n, wait in enumerate(waits):
        assert 0.0 <= wait <= min(policy.max_delay, policy.base_delay * 2**n)


def test_it_gives_up_after_max_attempts_and_reraises_the_last_error() -> None:
    last = RetryableError("the third")
    call = FlakyCall(RetryableError("first"), RetryableError("second"), last)

    with pytest.raises(RetryableError) as raised:
        retrying(RetryPolicy(max_attempts=3), sleep=lambda _: None)(call)

    assert raised.value is last
    assert call.calls == 3


def test_it_gives_up_before_a_wait_would_overrun_the_total_budget() -> None:
    policy = RetryPolicy(max_attempts=100, max_delay=60.0, max_total=20.0)
    call = FlakyCall(*[RetryableError("429", retry_after=7.0)] * 100)
    waits: list[float] = []

    with pytest.raises(RetryableError):
        retrying(policy, sleep=waits.append)(call)

    assert call.calls == 3  # waited 7 + 7; another 7 would end after 21 s
    assert sum(waits) <= policy.max_total


def test_each_retry_is_reported_with_status_attempt_and_delay_only() -> None:
    events: list[RetryEvent] = []
    waits: list[float] = []
    call = FlakyCall(RetryableError("GET /orders: HTTP 429", retry_after=2.0, status=429))

    retrying(RetryPolicy(), sleep=waits.append, on_retry=events.append)(call)

    assert events == [RetryEvent(attempt=1, delay=waits[0], status=429, error_class="RetryableError")]
