"""``ExampleConnector``: the streams, webhooks and writer of one Example API account, put together."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from itertools import pairwise

import httpx

from connectors.example.client import ExampleClient
from connectors.example.config import ExampleConfig
from connectors.example.streams import STREAMS, ExampleStream
from connectors.example.webhooks import WebhookVerifier, parse_delivery
from connectors.example.writers import WRITERS
from core.errors import PermanentError, SyncError
from core.records import CanonicalRecord
from core.sync.contract import Batch, CheckResult, OutboundMessage, Rejected, StreamSpec
from core.sync.cursor import StreamCursor
from core.sync.mapping import map_record, map_records
from core.sync.retry import RetryPolicy


class ExampleConnector:
    """A ``Connector``, ``WebhookReceiver`` and ``OutboundWriter`` for the Example POS + CRM API.

    ``transport`` fakes the wire and ``retry`` tunes the shared client's retries (the conformance kit turns
    them off to see the first error); ``clock`` is the webhook freshness clock, Unix seconds.
    """

    streams: Sequence[StreamSpec] = tuple(stream.spec for stream in STREAMS.values())
    outbound_kinds: Sequence[str] = tuple(WRITERS)

    def __init__(
        self,
        instance: str,
        config: ExampleConfig,
        *,
        token: str,
        webhook_secrets: Sequence[str] = (),
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.instance = instance
        self.config = config
        self._client = ExampleClient(config, token, transport=transport, retry=retry)
        self._verifier = WebhookVerifier(webhook_secrets, clock=clock)

    def check(self) -> CheckResult:
        """Read one customer: proves the URL, the token and its read scope without fetching data."""
        try:
            self._client.list_page(STREAMS["customers"].path, updated_since=None, cursor=None, limit=1)
        except SyncError as error:
            return CheckResult(ok=False, message=str(error))
        return CheckResult(ok=True, message=f"reached {self.config.base_url.host}; token accepted")

    def read(self, stream: str, cursor: str | None) -> Iterator[Batch]:
        """Pages from ``cursor`` on.

        Between pages the cursor keeps the query's own ``updated_since`` with the next page token (a page token
        belongs to the query that issued it); after the last page it moves to the newest ``updated_at`` seen.
        """
        return self._pages(self._stream(stream), StreamCursor.from_json(cursor), before=None)

    def backfill_slices(self, stream: str, count: int) -> Sequence[str]:
        """``count`` slices of equal time between the oldest and the newest ``updated_at`` (fewer if they are close).

        The first slice is open at the start and the last at the end, so a record updated while the plan is
        made still falls into one. Each slice is ``{"from": ISO or null, "before": ISO or null}``.
        """
        declared = self._stream(stream)
        oldest, newest = (self._edge(declared, newest_first=edge) for edge in (False, True))
        bounds: list[datetime | None] = [None]
        if oldest is not None and newest is not None and count > 1:
            step = (newest - oldest) / count
            cuts = sorted({(oldest + step * part).replace(microsecond=0) for part in range(1, count)})
            bounds.extend(cut for cut in cuts if oldest < cut <= newest)
        bounds.append(None)
        return [_slice_text(start, end) for start, end in pairwise(bounds)]

    def backfill_slice(self, stream: str, part: str, cursor: str | None) -> Iterator[Batch]:
        """The pages of one slice from ``cursor`` (or the slice's start) on, ending on its newest ``updated_at``."""
        start, before = _slice_bounds(part)
        position = StreamCursor.from_json(cursor) if cursor else StreamCursor(start)
        return self._pages(self._stream(stream), position, before=before)

    def _pages(self, declared: ExampleStream, position: StreamCursor, *, before: datetime | None) -> Iterator[Batch]:
        since, high_water = position.updated_since, position.updated_since
        while True:
            page = self._client.list_page(
                declared.path,
                updated_since=since,
                updated_before=before,
                cursor=position.page,
                limit=self.config.page_size,
            )
            records = map_records(self.instance, page.items, declared.mapper)
            high_water = _high_water(records, high_water)
            position = StreamCursor(since, page.next_cursor) if page.next_cursor else StreamCursor(high_water)
            yield Batch(records, position.to_json())
            if page.next_cursor is None:
                return

    def _edge(self, declared: ExampleStream, *, newest_first: bool) -> datetime | None:
        """The ``updated_at`` of the stream's oldest (or newest) record; ``None`` for an empty stream."""
        page = self._client.list_page(
            declared.path, updated_since=None, cursor=None, limit=1, newest_first=newest_first
        )
        records = map_records(self.instance, page.items, declared.mapper)
        return _high_water(records, None)

    def map_raw(self, stream: str, raw: str) -> CanonicalRecord | Rejected:
        """Map one stored raw object again (a dead letter being replayed after a fix)."""
        try:
            item = json.loads(raw)
        except ValueError:
            return Rejected(None, "stored payload is not JSON", raw)
        return map_record(self.instance, item, self._stream(stream).mapper)

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> str:
        """Authenticate a delivery over its raw body; returns its delivery id."""
        return self._verifier.verify(headers, body)

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> Sequence[CanonicalRecord | Rejected]:
        """The record a verified delivery carries."""
        return parse_delivery(self.instance, body)

    def deliver(self, message: OutboundMessage) -> None:
        """Push one outbox message of a kind in ``outbound_kinds``."""
        writer = WRITERS.get(message.kind)
        if writer is None:
            raise PermanentError(f"outbound kind {message.kind!r} is not supported by the example connector")
        writer(self._client, message)

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()

    def _stream(self, name: str) -> ExampleStream:
        try:
            return STREAMS[name]
        except KeyError:
            raise PermanentError(f"the example connector has no stream {name!r}") from None


def create_connector(instance: str, config: ExampleConfig, secrets: Mapping[str, str]) -> ExampleConnector:
    """The ``ConnectorType`` factory: ``secrets`` maps ``token_env`` and ``webhook_secret_env`` to values."""
    return ExampleConnector(
        instance,
        config,
        token=secrets["token_env"],
        webhook_secrets=[part.strip() for part in secrets.get("webhook_secret_env", "").split(",")],
    )


def _slice_text(start: datetime | None, before: datetime | None) -> str:
    return json.dumps({"from": start and start.isoformat(), "before": before and before.isoformat()})


def _slice_bounds(part: str) -> tuple[datetime | None, datetime | None]:
    """A slice's ``[from, before)``; a slice this connector did not write is a ``PermanentError``."""
    try:
        data = json.loads(part)
        start, before = (datetime.fromisoformat(data[key]) if data[key] else None for key in ("from", "before"))
    except (ValueError, KeyError, TypeError):
        raise PermanentError("the backfill slice is not one this connector planned") from None
    return start, before


def _high_water(records: Sequence[CanonicalRecord | Rejected], previous: datetime | None) -> datetime | None:
    """The latest ``updated_at`` of the page's valid records (a page of rejects keeps the previous mark)."""
    seen = [record.source_updated_at for record in records if isinstance(record, CanonicalRecord)]
    return max(seen, default=previous)
