"""``SquareConnector``: the streams, webhooks and customer writers of one Square seller, put together."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime

import httpx

from connectors.square.client import SEARCH_CUSTOMERS, SquareClient
from connectors.square.config import SquareConfig
from connectors.square.streams import STREAMS, RunWindow, SquareStream, next_location_group
from connectors.square.webhooks import WebhookVerifier, parse_notification
from connectors.square.writers import CustomerWriter
from core.errors import PermanentError, SyncError
from core.records import CanonicalRecord
from core.sync.contract import Batch, CheckResult, OutboundMessage, Rejected, StreamSpec
from core.sync.cursor import StreamCursor
from core.sync.mapping import map_record, map_records
from core.sync.retry import RetryPolicy


class SquareConnector:
    """A ``Connector``, ``WebhookReceiver`` and ``OutboundWriter`` for one Square seller.

    ``transport`` fakes the wire and ``retry`` tunes the shared client's retries (the conformance kit turns them
    off); ``wall_clock`` (Unix seconds) ends each run's window and dates notifications.
    """

    streams: Sequence[StreamSpec] = tuple(stream.spec for stream in STREAMS.values())
    outbound_kinds: Sequence[str] = CustomerWriter.kinds

    def __init__(
        self,
        instance: str,
        config: SquareConfig,
        *,
        token: str,
        signature_keys: Sequence[str] = (),
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.instance = instance
        self.config = config
        self._client = SquareClient(config, token, transport=transport, retry=retry)
        self._clock = wall_clock
        url = str(config.notification_url) if config.notification_url else None
        self._verifier = WebhookVerifier(
            signature_keys, url, max_age_s=config.webhook_max_age_s, max_skew_s=config.webhook_max_skew_s,
            clock=wall_clock,
        )  # fmt: skip
        self._writer = CustomerWriter(instance, self._client)

    def check(self) -> CheckResult:
        """Search one customer: proves the URL, the version, the token and its CUSTOMERS_READ permission."""
        try:
            self._client.search(SEARCH_CUSTOMERS, {"limit": 1})
        except SyncError as error:
            return CheckResult(ok=False, message=str(error))
        host = self.config.base_url.host
        return CheckResult(
            ok=True, message=f"reached {host} (Square-Version {self.config.square_version}); token accepted"
        )

    def read(self, stream: str, cursor: str | None) -> Iterator[Batch]:
        """Pages from ``cursor`` on, in the run's fixed window (see ``connectors.square.streams``).

        Between pages the cursor keeps the window's ``updated_since`` and the ``RunWindow`` (end, location
        group, Square's cursor); after the last page of the last location group it moves to the newest
        ``updated_at`` seen, which the next run reads again (inclusive) after the engine's lookback.
        """
        declared = self._stream(stream)
        position = StreamCursor.from_json(cursor)
        since, high_water = position.updated_since, position.updated_since
        locations = self._locations() if declared.by_location else []
        window = RunWindow.from_page(position.page) if position.page else self._first_window(declared, locations)
        if window is None:  # a seller without locations has no orders
            yield Batch([], StreamCursor(since).to_json())
            return
        mapper = declared.mapper(self.config)
        while window is not None:
            answer = self._client.search(declared.path, declared.query(self.config, since, window))
            items = answer.get(declared.result_key) or []
            if not isinstance(items, list):
                raise PermanentError(f"POST {declared.path}: {declared.result_key} is not a list")
            records = map_records(self.instance, items, mapper)
            high_water = _high_water(records, high_water)
            window = self._next_window(window, answer.get("cursor"), locations, declared)
            reached = StreamCursor(since, window.to_page()) if window else StreamCursor(high_water)
            yield Batch(records, reached.to_json())

    def map_raw(self, stream: str, raw: str) -> CanonicalRecord | Rejected:
        """Map one stored raw object again (a dead letter being replayed after a fix)."""
        try:
            item = json.loads(raw)
        except ValueError:
            return Rejected(None, "stored payload is not JSON", raw)
        return map_record(self.instance, item, self._stream(stream).mapper(self.config))

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> str:
        """Authenticate a notification over the notification URL and its raw body; returns its ``event_id``."""
        return self._verifier.verify(headers, body)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Sequence[CanonicalRecord | Rejected]:
        """The records a verified notification stands for (orders: the order as Square has it now)."""
        return parse_notification(self.instance, body, STREAMS["customers"].mapper(self.config), self._read_order)

    def deliver(self, message: OutboundMessage) -> None:
        """Push one outbox message (``member.loyalty``, ``member.profile``)."""
        self._writer.deliver(message)

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()

    def _locations(self) -> list[str]:
        if self.config.location_ids:
            return list(self.config.location_ids)
        return [str(location["id"]) for location in self._client.list_locations() if location.get("id")]

    def _first_window(self, declared: SquareStream, locations: list[str]) -> RunWindow | None:
        end = datetime.fromtimestamp(self._clock(), UTC)
        if not declared.by_location:
            return RunWindow(end)
        group = next_location_group(locations, ())
        return RunWindow(end, group) if group else None

    def _next_window(
        self, window: RunWindow, cursor: object, locations: list[str], declared: SquareStream
    ) -> RunWindow | None:
        """The same query's next page, else the next location group's first page, else ``None``: the run is done."""
        if isinstance(cursor, str) and cursor:
            return RunWindow(window.end, window.locations, cursor)
        if not declared.by_location:
            return None
        group = next_location_group(locations, window.locations)
        return RunWindow(window.end, group) if group else None

    def _read_order(self, order_id: str) -> CanonicalRecord | Rejected | None:
        order = self._client.retrieve_order(order_id)
        if order is None or order.get("state") != "COMPLETED":
            return None
        if self.config.location_ids and order.get("location_id") not in self.config.location_ids:
            return None
        return map_record(self.instance, order, STREAMS["orders"].mapper(self.config))

    def _stream(self, name: str) -> SquareStream:
        try:
            return STREAMS[name]
        except KeyError:
            raise PermanentError(f"the square connector has no stream {name!r}") from None


def create_connector(instance: str, config: SquareConfig, secrets: Mapping[str, str]) -> SquareConnector:
    """The ``ConnectorType`` factory: ``secrets`` maps ``token_env`` and ``webhook_signature_key_env`` to values."""
    return SquareConnector(
        instance,
        config,
        token=secrets["token_env"],
        signature_keys=[part.strip() for part in secrets.get("webhook_signature_key_env", "").split(",")],
    )


def _high_water(records: Sequence[CanonicalRecord | Rejected], previous: datetime | None) -> datetime | None:
    """The latest ``updated_at`` of the page's valid records (a page of rejects keeps the previous mark)."""
    seen = [record.source_updated_at for record in records if isinstance(record, CanonicalRecord)]
    return max([*seen, *([previous] if previous else [])], default=None)
