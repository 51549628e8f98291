"""The persisted circuit breaker, on a real SQLite file and a real PostgreSQL database."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from core.errors import CircuitOpenError
from core.store import breakers as repo
from core.store import create_hub_engine, upgrade_database
from core.sync.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker

CONNECTOR = "tokyo-shop"


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = create_hub_engine(db_url)
    upgrade_database(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def other_engine(db_url: str, engine: Engine) -> Iterator[Engine]:
    """A second engine on the same database: another worker process, as far as the breaker can tell."""
    other = create_hub_engine(db_url)
    yield other
    other.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def breaker(engine: Engine, clock: FakeClock) -> CircuitBreaker:
    return CircuitBreaker(engine, CONNECTOR, fail_max=3, reset_timeout=60.0, clock=clock)


def call_through(breaker: CircuitBreaker, call: Callable[[], None]) -> None:
    """How the engine uses a breaker: ask, call, report."""
    breaker.before_call()
    try:
        call()
    except ConnectionError as error:
        breaker.record_failure(type(error).__name__)
        raise
    breaker.record_success()


def fail(breaker: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        breaker.record_failure("ReadTimeout")


def test_a_breaker_that_never_failed_is_closed_and_lets_calls_through(breaker: CircuitBreaker) -> None:
    breaker.before_call()

    assert breaker.state().state == CLOSED
    assert breaker.state().consecutive_failures == 0


def test_it_opens_after_fail_max_consecutive_failures(breaker: CircuitBreaker, clock: FakeClock) -> None:
    fail(breaker, 2)
    assert breaker.state().state == CLOSED

    fail(breaker, 1)

    state = breaker.state()
    assert (state.state, state.consecutive_failures, state.last_error_class) == (OPEN, 3, "ReadTimeout")
    assert state.opened_at == clock.now
    assert state.next_probe_at == clock.now + timedelta(seconds=60)


def test_a_success_resets_the_consecutive_failures(breaker: CircuitBreaker) -> None:
    fail(breaker, 2)
    breaker.record_success()
    fail(breaker, 2)

    assert breaker.state().state == CLOSED
    assert breaker.state().consecutive_failures == 2


def test_an_open_breaker_short_circuits_without_calling(breaker: CircuitBreaker, clock: FakeClock) -> None:
    fail(breaker, 3)
    clock.advance(59)
    calls: list[str] = []

    with pytest.raises(CircuitOpenError, match=r"is open after ReadTimeout until 2026-12-01T09:01:00"):
        call_through(breaker, lambda: calls.append("sent"))

    assert calls == []


def test_after_the_reset_timeout_one_probe_goes_through(breaker: CircuitBreaker, clock: FakeClock) -> None:
    fail(breaker, 3)
    clock.advance(60)

    breaker.before_call()

    assert breaker.state().state == HALF_OPEN
    with pytest.raises(CircuitOpenError, match="probe is under way"):
        breaker.before_call()


def test_a_successful_probe_closes_the_circuit(breaker: CircuitBreaker, clock: FakeClock) -> None:
    fail(breaker, 3)
    clock.advance(60)

    call_through(breaker, lambda: None)

    state = breaker.state()
    assert (state.state, state.consecutive_failures, state.next_probe_at) == (CLOSED, 0, None)
    breaker.before_call()


def test_a_failed_probe_opens_the_circuit_for_another_timeout(breaker: CircuitBreaker, clock: FakeClock) -> None:
    fail(breaker, 3)
    clock.advance(60)

    def refused() -> None:
        raise ConnectionRefusedError

    with pytest.raises(ConnectionRefusedError):
        call_through(breaker, refused)

    state = breaker.state()
    assert (state.state, state.last_error_class) == (OPEN, "ConnectionRefusedError")
    assert state.next_probe_at == clock.now + timedelta(seconds=60)
    with pytest.raises(CircuitOpenError):
        breaker.before_call()


def test_a_probe_whose_prober_died_can_be_taken_over_after_the_timeout(
    breaker: CircuitBreaker, clock: FakeClock
) -> None:
    fail(breaker, 3)
    clock.advance(60)
    breaker.before_call()  # this prober never reports back

    clock.advance(60)

    breaker.before_call()
    assert breaker.state().state == HALF_OPEN


def test_only_the_first_of_two_stale_probers_wins_the_conditional_update(
    breaker: CircuitBreaker, engine: Engine, other_engine: Engine, clock: FakeClock
) -> None:
    fail(breaker, 3)
    clock.advance(60)
    lease = clock.now + timedelta(seconds=60)

    # Both processes have read "open, probe due"; each now tries to claim the probe.
    with engine.begin() as conn:
        first = repo.claim_probe(conn, CONNECTOR, now=clock.now, lease_until=lease)
    with other_engine.begin() as conn:
        second = repo.claim_probe(conn, CONNECTOR, now=clock.now, lease_until=lease)

    assert (first, second) == (True, False)


def test_exactly_one_of_two_concurrent_probers_wins(
    breaker: CircuitBreaker, other_engine: Engine, clock: FakeClock
) -> None:
    workers = [breaker, CircuitBreaker(other_engine, CONNECTOR, fail_max=3, reset_timeout=60.0, clock=clock)]
    fail(breaker, 3)
    for _round in range(5):
        clock.advance(60)
        outcomes = _race(workers)
        assert sorted(outcomes) == ["probing", "refused"]
        breaker.record_failure("ReadTimeout")  # the probe failed: open again for the next round


def test_the_state_survives_a_new_engine(db_url: str, breaker: CircuitBreaker, clock: FakeClock) -> None:
    fail(breaker, 3)
    breaker.engine.dispose()

    restarted = create_hub_engine(db_url)
    try:
        revived = CircuitBreaker(restarted, CONNECTOR, fail_max=3, reset_timeout=60.0, clock=clock)
        assert revived.state().state == OPEN
        with pytest.raises(CircuitOpenError):
            revived.before_call()
    finally:
        restarted.dispose()


def test_each_connector_instance_has_its_own_breaker(breaker: CircuitBreaker, engine: Engine) -> None:
    fail(breaker, 3)

    CircuitBreaker(engine, "osaka-pos", fail_max=3).before_call()

    assert CircuitBreaker(engine, "osaka-pos").state().state == CLOSED


def _race(workers: list[CircuitBreaker]) -> list[str]:
    """Let every worker call ``before_call`` at the same moment, each on its own thread and engine."""
    start = threading.Barrier(len(workers))
    outcomes: list[str] = []

    def probe(worker: CircuitBreaker) -> None:
        start.wait()
        try:
            worker.before_call()
        except CircuitOpenError:
            outcomes.append("refused")
        else:
            outcomes.append("probing")

    threads = [threading.Thread(target=probe, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes
