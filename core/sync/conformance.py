"""The connector conformance kit: the standard tests every connector passes against its own sandbox.

A connector's test module builds the suite once, as singer-sdk's test-class factory does::

    from core.sync.conformance import conformance_suite

    TestMyConnectorConformance = conformance_suite(
        streams=("customers", "orders"),
        sandbox=MySandboxServer,                      # () -> context manager yielding a SandboxLike
        make_connector=lambda box: MyConnector(..., base_url=box.url, retry=RetryPolicy(max_attempts=1)),
        faults=lambda box: box.state,                 # the sandbox's FaultInjector
    )

Every test gets a fresh sandbox and connector. Build the connector with the shared client's retries off: the
kit checks how errors are *classified*; retrying is the shared client's job and is tested in core. The
webhook tests skip when the connector is not a ``WebhookReceiver``. This module imports pytest: import it
from tests only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, TypeVar

import pytest

from core.errors import PermanentError, RetryableError, WebhookRejected
from core.records import CanonicalRecord
from core.sync.conformance_backfill import backfill_checks
from core.sync.conformance_batches import by_id, difference, duplicates, read_all, records_of, rejects_of
from core.sync.conformance_slices import slice_checks
from core.sync.contract import Batch, Connector, Rejected, StreamSpec, WebhookReceiver

__all__ = ["FaultInjector", "SandboxLike", "WebhookDeliveryLike", "conformance_suite", "read_all"]

STALE_AGE_S = 600.0
"""How old (or, negated, how far in the future) a delivery is in the stale-webhook test: past any window."""
_FORGED_SECRET = "forged-secret-not-configured"  # noqa: S105 - a wrong secret on purpose
_PERSONAL_LOOKING = re.compile(r"[^\x00-\x7f]|@|\d{2,4}-\d{2,4}-\d{3,4}")


class WebhookDeliveryLike(Protocol):
    """A signed delivery as the system would POST it."""

    @property
    def headers(self) -> Mapping[str, str]:
        """The request headers, signature included."""
        ...

    @property
    def body(self) -> bytes:
        """The exact bytes that were signed."""
        ...

    @property
    def timestamp_header(self) -> str | None:
        """The header carrying the signed timestamp, or ``None`` if the scheme signs no timestamp."""
        ...


class SandboxLike(Protocol):
    """What the kit needs from a connector's sandbox beyond its fault injector."""

    def record_ids(self, stream: str) -> Collection[str]:
        """Ids of every record the sandbox holds in ``stream``."""
        ...

    def webhook_delivery(
        self, stream: str, record_id: str, *, secret: str | None = None, age_s: float = 0.0
    ) -> WebhookDeliveryLike:
        """A delivery for one record, signed with ``secret`` (default: the configured one) ``age_s`` ago.

        Needed only when the connector is a ``WebhookReceiver``.
        """
        ...


class FaultInjector(Protocol):
    """How the kit breaks the sandbox. Each call affects the requests that come after it.

    Optional, for a connector with the ``Backfiller`` capability: ``fail_next_export()``, after which the next
    export job the sandbox runs (a bulk operation) fails.
    """

    def fail_next(self, n: int, status: int) -> None:
        """Answer the next ``n`` requests with HTTP ``status`` and the API's error body."""
        ...

    def throttle_next(self, n: int, retry_after: int) -> None:
        """Answer the next ``n`` requests with 429 and ``Retry-After: retry_after`` (seconds)."""
        ...

    def serve_garbage(self, n: int) -> None:
        """Break a few records (missing id, wrong types, out-of-range values) in the next ``n`` pages."""
        ...

    def update_record(self, stream: str, record_id: str) -> object:
        """Change a record so that its cursor field becomes later than every other record's."""
        ...

    def reject_credentials(self) -> None:
        """Revoke the credentials the connector was built with."""
        ...


SandboxT = TypeVar("SandboxT", bound=SandboxLike)


def conformance_suite(
    *,
    streams: Sequence[str],
    sandbox: Callable[[], AbstractContextManager[SandboxT]],
    make_connector: Callable[[SandboxT], Connector],
    faults: Callable[[SandboxT], FaultInjector],
    name: str = "TestConnectorConformance",
) -> type:
    """A pytest test class checking a connector against the contract of ``core.sync.contract``.

    ``streams`` names the streams to test (each needs more than one page of records in the sandbox);
    ``sandbox`` opens a fresh sandbox; ``make_connector`` builds the connector for it; ``faults`` returns
    its fault injector (often the sandbox itself or its state). Assign the result to a ``Test…`` name.
    """
    if not streams:
        raise ValueError("conformance_suite needs at least one stream")
    open_sandbox, injector_of, first_stream = sandbox, faults, streams[0]
    each_stream = pytest.mark.parametrize("stream", streams)

    class ConformanceSuite(backfill_checks(streams), slice_checks(streams)):  # type: ignore[misc]
        @pytest.fixture
        def sandbox(self) -> Iterator[SandboxT]:
            with open_sandbox() as opened:
                yield opened

        @pytest.fixture
        def faults(self, sandbox: SandboxT) -> FaultInjector:
            return injector_of(sandbox)

        @pytest.fixture
        def connector(self, sandbox: SandboxT) -> Iterator[Connector]:
            built = make_connector(sandbox)
            try:
                yield built
            finally:
                built.close()

        @pytest.fixture
        def receiver(self, connector: Connector) -> WebhookReceiver:
            if not isinstance(connector, WebhookReceiver):
                pytest.skip("the connector does not receive webhooks")
            return connector

        # ── declaration and check ───────────────────────────────────────────────────────────────────

        def test_connector_declares_its_streams(self, connector: Connector) -> None:
            """Unique stream names, each a ``StreamSpec`` whose record type is canonical."""
            assert isinstance(connector, Connector)
            assert connector.instance
            names = [spec.name for spec in connector.streams]
            assert len(names) == len(set(names)), f"duplicate stream names: {names}"
            assert set(streams) <= set(names), f"declared {names}, tested {list(streams)}"
            for spec in connector.streams:
                assert isinstance(spec, StreamSpec)
                assert issubclass(spec.record_type, CanonicalRecord)

        def test_check_succeeds_against_the_sandbox(self, connector: Connector) -> None:
            """``check()`` passes with good credentials and says so."""
            result = connector.check()
            assert result.ok, result.message
            assert result.message

        def test_check_reports_rejected_credentials(self, connector: Connector, faults: FaultInjector) -> None:
            """``check()`` returns ``ok=False`` (it does not raise) with a message naming the cause."""
            faults.reject_credentials()
            result = connector.check()
            assert not result.ok
            words = ("401", "403", "token", "credential", "auth", "key")
            assert any(word in result.message.lower() for word in words), result.message

        # ── reading ─────────────────────────────────────────────────────────────────────────────────

        @each_stream
        def test_full_read_returns_every_record_exactly_once(
            self, connector: Connector, sandbox: SandboxT, stream: str
        ) -> None:
            """No record missing, none twice, all typed as declared and stamped with the instance."""
            spec = _spec(connector, stream)
            batches = read_all(connector, stream)
            records = records_of(batches)
            assert not rejects_of(batches), rejects_of(batches)[:3]
            ids = [record.external_id for record in records]
            assert not duplicates(ids), f"read twice: {duplicates(ids)[:10]}"
            expected = set(sandbox.record_ids(stream))
            assert set(ids) == expected, difference(expected, set(ids))
            assert all(isinstance(record, spec.record_type) for record in records)
            assert {record.source for record in records} <= {connector.instance}
            if spec.incremental:
                assert batches[-1].cursor is not None, "an incremental stream must end on a cursor"

        @each_stream
        def test_resuming_from_any_batch_cursor_returns_the_remainder(self, connector: Connector, stream: str) -> None:
            """From the cursor after any batch comes all the rest; only records on its boundary may repeat."""
            batches = read_all(connector, stream)
            if len(batches) < 2:
                pytest.fail(f"the sandbox must hold more than one page of {stream!r} for this test")
            everything = {record.external_id for record in records_of(batches)}
            for done, batch in enumerate(batches[:-1], start=1):
                assert batch.cursor is not None, "a batch must carry the cursor reached after it"
                head = by_id(records_of(batches[:done]))
                rest = [record.external_id for record in records_of(read_all(connector, stream, batch.cursor))]
                assert not duplicates(rest), f"after batch {done}, read twice: {duplicates(rest)[:10]}"
                seen = set(head) | set(rest)
                assert seen == everything, f"after batch {done}: {difference(everything, seen)}"
                boundary = max(record.source_updated_at for record in head.values())
                early = [rid for rid in rest if rid in head and head[rid].source_updated_at != boundary]
                assert not early, f"after batch {done}, records before the boundary came again: {early[:10]}"

        @each_stream
        def test_records_updated_after_the_cursor_are_read(
            self, connector: Connector, faults: FaultInjector, stream: str
        ) -> None:
            """A record changed after a finished read comes back from the final cursor, and nothing older."""
            batches = read_all(connector, stream)
            records = records_of(batches)
            boundary = max(record.source_updated_at for record in records)
            target = min(records, key=lambda record: (record.source_updated_at, record.external_id))
            faults.update_record(stream, target.external_id)
            again = by_id(records_of(read_all(connector, stream, batches[-1].cursor)))
            assert target.external_id in again, "the updated record was not read from the final cursor"
            assert again[target.external_id].source_updated_at > target.source_updated_at
            stale = [rid for rid, record in again.items()
                     if rid != target.external_id and record.source_updated_at != boundary]  # fmt: skip
            assert not stale, f"unchanged records before the boundary were read again: {stale[:10]}"

        @each_stream
        def test_reading_twice_yields_the_samerecords_of(self, connector: Connector, stream: str) -> None:
            """Re-reading unchanged data gives equal records, so upserts keyed by external id are no-ops."""
            first, second = (by_id(records_of(read_all(connector, stream))) for _ in range(2))
            assert first == second

        # ── errors ──────────────────────────────────────────────────────────────────────────────────

        def test_rate_limit_raises_retryable_error_with_retry_after(
            self, connector: Connector, faults: FaultInjector
        ) -> None:
            """A 429 storm surfaces as ``RetryableError`` carrying the server's ``Retry-After``."""
            faults.throttle_next(3, retry_after=1)
            with pytest.raises(RetryableError) as caught:
                read_all(connector, first_stream)
            assert caught.value.retry_after is not None and caught.value.retry_after > 0
            assert caught.value.status in (None, 429)

        @pytest.mark.parametrize("status", [500, 503])
        def test_server_error_raises_retryable_error(
            self, connector: Connector, faults: FaultInjector, status: int
        ) -> None:
            """5xx is transient."""
            faults.fail_next(1, status)
            with pytest.raises(RetryableError):
                read_all(connector, first_stream)

        @pytest.mark.parametrize("status", [400, 401])
        def test_client_error_raises_permanent_error(
            self, connector: Connector, faults: FaultInjector, status: int
        ) -> None:
            """A malformed or unauthorised request is never retried."""
            faults.fail_next(1, status)
            with pytest.raises(PermanentError):
                read_all(connector, first_stream)

        @each_stream
        def test_garbage_records_are_rejected_and_the_rest_kept(
            self, connector: Connector, faults: FaultInjector, stream: str
        ) -> None:
            """Broken records become ``Rejected`` with a PII-free reason; the same page's valid ones pass."""
            spec = _spec(connector, stream)
            faults.serve_garbage(1)
            batches = read_all(connector, stream)
            spoiled = next((batch for batch in batches if rejects_of([batch])), None)
            assert spoiled is not None, "garbage records must come back as Rejected"
            assert any(isinstance(record, spec.record_type) for record in spoiled.records), (
                "the valid records of a page with garbage must still come through"
            )
            for rejected in rejects_of(batches):
                assert rejected.reason.strip() and rejected.payload
                leaked = _personal_values_in(rejected)
                assert not leaked, f"reason {rejected.reason!r} repeats values of the record"

        # ── webhooks ────────────────────────────────────────────────────────────────────────────────

        @each_stream
        def test_signed_webhook_is_accepted_and_parsed(
            self, sandbox: SandboxT, connector: Connector, receiver: WebhookReceiver, stream: str
        ) -> None:
            """An authentic, fresh delivery gives its delivery id and the record it carries."""
            record_id = min(sandbox.record_ids(stream))
            delivery = sandbox.webhook_delivery(stream, record_id)
            delivery_id = receiver.verify_webhook(delivery.headers, delivery.body)
            assert isinstance(delivery_id, str) and delivery_id
            records = receiver.parse_webhook(delivery.headers, delivery.body)
            assert [record.external_id for record in records] == [record_id]
            assert all(isinstance(record, _spec(connector, stream).record_type) for record in records)

        def test_webhook_signed_with_another_secret_is_rejected(
            self, sandbox: SandboxT, receiver: WebhookReceiver
        ) -> None:
            """A forged signature is refused."""
            delivery = _delivery(sandbox, first_stream, secret=_FORGED_SECRET)
            with pytest.raises(WebhookRejected):
                receiver.verify_webhook(delivery.headers, delivery.body)

        def test_webhook_with_a_tampered_body_is_rejected(self, sandbox: SandboxT, receiver: WebhookReceiver) -> None:
            """The signature covers the raw body: one extra byte breaks it."""
            delivery = _delivery(sandbox, first_stream)
            with pytest.raises(WebhookRejected):
                receiver.verify_webhook(delivery.headers, delivery.body + b" ")

        @pytest.mark.parametrize("age_s", [STALE_AGE_S, -STALE_AGE_S], ids=["stale", "future"])
        def test_webhook_outside_the_time_window_is_rejected(
            self, sandbox: SandboxT, receiver: WebhookReceiver, age_s: float
        ) -> None:
            """A correctly signed delivery from long ago (a captured replay) or from the future is refused."""
            delivery = _delivery(sandbox, first_stream, age_s=age_s)
            with pytest.raises(WebhookRejected):
                receiver.verify_webhook(delivery.headers, delivery.body)

        def test_replayed_webhook_with_a_fresh_timestamp_is_rejected(
            self, sandbox: SandboxT, receiver: WebhookReceiver
        ) -> None:
            """Re-dating an old delivery's timestamp header breaks its signature: the timestamp is signed."""
            old = _delivery(sandbox, first_stream, age_s=STALE_AGE_S)
            if old.timestamp_header is None:
                pytest.skip("the webhook scheme signs no timestamp")
            fresh = _delivery(sandbox, first_stream)
            headers = {**old.headers, old.timestamp_header: fresh.headers[old.timestamp_header]}
            with pytest.raises(WebhookRejected):
                receiver.verify_webhook(headers, old.body)

        def test_unsigned_webhook_is_rejected(self, sandbox: SandboxT, receiver: WebhookReceiver) -> None:
            """A delivery without signature headers is refused."""
            delivery = _delivery(sandbox, first_stream)
            with pytest.raises(WebhookRejected):
                receiver.verify_webhook({"Content-Type": "application/json"}, delivery.body)

    ConformanceSuite.__name__ = ConformanceSuite.__qualname__ = name
    return ConformanceSuite


def _spec(connector: Connector, stream: str) -> StreamSpec:
    return next(spec for spec in connector.streams if spec.name == stream)


def _first_batch(connector: Connector, stream: str) -> Batch:
    reading = connector.read(stream, None)
    try:
        return next(reading)
    finally:
        close = getattr(reading, "close", None)
        if close is not None:
            close()


def _delivery(sandbox: SandboxLike, stream: str, **options: Any) -> WebhookDeliveryLike:
    return sandbox.webhook_delivery(stream, min(sandbox.record_ids(stream)), **options)


def _personal_values_in(rejected: Rejected) -> list[str]:
    """Values of the raw record that look personal (non-ASCII, emails, phones) and appear in the reason."""
    try:
        payload = json.loads(rejected.payload)
    except ValueError:
        return []
    personal = (value for value in _strings(payload) if _PERSONAL_LOOKING.search(value))
    return [value for value in personal if value in rejected.reason]


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
